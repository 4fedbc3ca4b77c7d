import '../src/platform/promise-with-resolvers.js'
// Pipe-protocol floods against a node in its own process (real libp2p, real mediasoup):
// swarm members gone bad (test/security/pipe-attacker.ts, several identities) send
// thousands of well-formed requests for random producer ids, recruits of random ids, and
// broken frames. Meanwhile a legitimate node in another process pulls a producer of the
// flooded node again and again (call → first RTP packet at its sink) and watches another
// (packets per second at its sink). Measured: the legitimate pull's latency idle and
// during each flood (target ≤ 2× idle), the sink's rate, what the attackers got back,
// and the flooded node's RSS (Node.js process and its mediasoup worker) before, at the
// peak during, and after the floods.
import { readFileSync } from 'node:fs'
import os from 'node:os'
import v8 from 'node:v8'
import vm from 'node:vm'
import { createSwarmNode } from '../src/index.js'
import { formatTable, sleep, waitFor } from '../test/harness/index.js'
import { epochNow, startProcessChain, stopProcesses, waitProcessesConnected } from '../test/harness/process-node.js'
import { varint } from '../src/protocol/framing.js'
import { createAttacker, flood, frame } from '../test/security/pipe-attacker.js'
import { ErrorLog, heading, median } from './common.js'
import type { Benchmark } from './common.js'
import type { TableRow } from '../test/harness/index.js'
import type { RemoteNode } from '../test/harness/process-node.js'
import type { Attacker, FloodKind, FloodResult } from '../test/security/pipe-attacker.js'

const PACKETS_PER_SECOND = 100
const IDLE_PULLS = 8
/** Legitimate pulls at most per flood (each with its release). */
const PULLS_PER_FLOOD = 6
const FLOOD_TIMEOUT_MS = 40_000
const SETTLE_AFTER_MS = 15_000
/** And once the flooded node has been idle a while (V8's memory reducer runs 20-40 s into an idle spell). */
const IDLE_AFTER_MS = 45_000
const TARGET_LATENCY_RATIO = 2
/** RSS after the floods, over the RSS before them. */
const TARGET_RSS_GROWTH_MB = 10
/** JS heap after a full GC, after each flood, over the heap before the first. */
const TARGET_HEAP_GROWTH_MB = 2
const HEAP_ROUNDS = 3
const HEAP_FLOOD = 1000

interface FloodCase {
  label: string
  kinds: FloodKind[]
  /** Requests per attacker identity. */
  perIdentity: number
  identities: number
  streams: number
}

const ALL_KINDS: FloodKind[] = ['pull', 'locate', 'recruit', 'announce', 'status', 'move', 'release', 'close-pipe', 'connect-pipe', 'producer-event']
const CASES: FloodCase[] = [
  { label: '10 000 pulls of random ids (5 identities × 4 streams)', kinds: ['pull'], perIdentity: 2000, identities: 5, streams: 4 },
  { label: '10 000 mixed requests for random ids (pull, locate, recruit, announce, status, move, release, close-pipe, connect-pipe, producer-event; 5 identities)', kinds: ALL_KINDS, perIdentity: 2000, identities: 5, streams: 4 },
  { label: '1 000 recruits of random ids (one identity)', kinds: ['recruit'], perIdentity: 1000, identities: 1, streams: 4 }
]

/** Resident memory of a process, MB (Linux). */
function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
  return kb / 1024
}

class RssWatch {
  peakNode = 0
  peakWorker = 0
  private timer?: NodeJS.Timeout
  constructor (private readonly nodePid: number, private readonly workerPid: number) {}
  now (): { node: number, worker: number } { return { node: rssMb(this.nodePid), worker: rssMb(this.workerPid) } }
  start (): void {
    this.timer = setInterval(() => {
      const { node, worker } = this.now()
      this.peakNode = Math.max(this.peakNode, node)
      this.peakWorker = Math.max(this.peakWorker, worker)
    }, 200)
  }

  stop (): void { clearInterval(this.timer) }
}

/** Legitimate pulls, each released after; a failed one is counted in `failures`, not thrown. */
async function timedPulls (origin: RemoteNode, legit: RemoteNode, producerId: string, count: number, keepGoing: () => boolean, failures: string[] = []): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < count && keepGoing(); i++) {
    try {
      samples.push((await legit.request('timedPull', { producerId }, 30_000)).total)
      // The watched producer's pipe stays; the pulled one (its own router at the origin) goes.
      await legit.request('release', { producerId, incomingPipes: 1 }, 30_000)
      await waitFor(async () => (await origin.request('pipeStats', {})).outgoingPipes === 1, { timeoutMs: 10_000, what: 'the origin dropping the released pipe' })
    } catch (err) {
      failures.push((err as Error).message)
      await legit.request('release', { producerId, incomingPipes: 1 }, 30_000).catch(() => {})
    }
  }
  return samples
}

/** Packets per second at the watch's sink between two epoch times. */
async function sinkRate (legit: RemoteNode, producerId: string, from: number, to: number): Promise<number> {
  const { arrivals } = await legit.request('watchReport', { producerId, since: from })
  return arrivals.filter((t) => t <= to).length / ((to - from) / 1000)
}

function merge (results: FloodResult[]): { sent: number, answered: number, answers: Map<string, number>, refusedStreams: number, ms: number } {
  const answers = new Map<string, number>()
  for (const r of results) for (const [k, n] of r.answers) answers.set(k, (answers.get(k) ?? 0) + n)
  return {
    sent: results.reduce((n, r) => n + r.sent, 0),
    answered: results.reduce((n, r) => n + r.answered, 0),
    answers,
    refusedStreams: results.reduce((n, r) => n + r.refusedStreams, 0),
    ms: Math.max(...results.map((r) => r.ms))
  }
}

const fmtAnswers = (answers: Map<string, number>): string => [...answers].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')

/** Broken frames from one identity: random bodies, oversize and endless length prefixes, frames that never end. */
async function junk (attacker: Attacker): Promise<{ sessions: number, reset: number }> {
  const sessions = []
  for (let i = 0; i < 30; i++) {
    const session = await attacker.open().catch(() => undefined)
    if (session === undefined) continue
    sessions.push(session)
    const which = i % 3
    if (which === 0) for (let j = 0; j < 200; j++) await session.send(frame(Uint8Array.from({ length: 1 + (j * 37) % 300 }, (_, k) => (k * 131 + j) & 0xff)))
    else if (which === 1) await session.send(Uint8Array.from([...varint(1 << 20), 1]))
    else await session.send(new Uint8Array(1000).fill(0x80))
    // Four sessions per connection at most: close this one before the next.
    await sleep(50)
    session.stream.abort(new Error('next'))
  }
  return { sessions: sessions.length, reset: sessions.filter((s) => s.stream.status !== 'open').length }
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  let stopping = false
  // The synthetic source runs in the flooded node's process, so it pauses when that
  // process's JS does (a real publisher's media would not): the legitimate node waits
  // longer before it takes a silent upstream for dead.
  const nodes = await startProcessChain(2, (i, text) => errors.add(i, stopping ? `(while the swarm stops) ${text}` : text), { timeouts: { mediaSilence: 3000, livenessPing: 2000 } })
  const attackers: Attacker[] = []
  const rows: TableRow[] = []
  const floodRows: TableRow[] = []
  const notes: string[] = []
  try {
    await waitProcessesConnected(nodes)
    const [origin, legit] = nodes as [RemoteNode, RemoteNode]
    const target = { peerId: origin.peerId, multiaddrs: origin.multiaddrs }
    const watched = (await origin.request('createSource', { kind: 'video', packetsPerSecond: PACKETS_PER_SECOND })).producerId
    const pulled = (await origin.request('createSource', { kind: 'video', packetsPerSecond: PACKETS_PER_SECOND, inNewRouter: true })).producerId
    await origin.request('startSource', { producerId: watched })
    await origin.request('startSource', { producerId: pulled })
    await legit.request('watch', { producerId: watched })
    notes.push(`load average (1 min) at the start: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`)
    const [workerPid] = await origin.request('workerPids', {})
    const rss = new RssWatch(origin.pid!, workerPid!)

    // Warm-up (code optimised), then idle.
    await timedPulls(origin, legit, pulled, 3, () => true)
    const idleFrom = epochNow()
    const idle = await timedPulls(origin, legit, pulled, IDLE_PULLS, () => true)
    const idleRate = await sinkRate(legit, watched, idleFrom, epochNow())
    const idleP50 = median(idle)
    const before = rss.now()
    const heapBefore = (await origin.request('counts', {})).heapUsedBytes / 2 ** 20
    rows.push({ phase: 'idle', 'legit pull p50 ms': idleP50, 'max ms': Math.max(...idle), 'ratio to idle': 1, target: `≤ ${TARGET_LATENCY_RATIO}×`, 'legit sink pps': idleRate })
    rss.start()

    for (const c of CASES) {
      const identities: Attacker[] = []
      for (let i = 0; i < c.identities; i++) {
        identities.push(await createAttacker(target))
        attackers.push(identities.at(-1)!)
        // libp2p takes 5 inbound connections per second from one host by default.
        await sleep(250)
      }
      const from = epochNow()
      let flooding = true
      const floods = Promise.all(identities.map(async (a) => await flood(a, { count: c.perIdentity, kinds: c.kinds, streams: c.streams, timeoutMs: FLOOD_TIMEOUT_MS })))
        .finally(() => { flooding = false })
      await sleep(300)
      const failures: string[] = []
      const during = await timedPulls(origin, legit, pulled, PULLS_PER_FLOOD, () => flooding, failures)
      if (failures.length > 0) notes.push(`${c.label}: ${failures.length} legitimate pulls failed; first: ${failures[0]}`)
      const results = merge(await floods)
      const to = epochNow()
      const reflected = identities.reduce((n, a) => n + (a.received.get('pull') ?? 0), 0)
      rows.push({
        phase: c.label,
        'legit pull p50 ms': during.length > 0 ? median(during) : NaN,
        'max ms': during.length > 0 ? Math.max(...during) : NaN,
        'ratio to idle': during.length > 0 ? median(during) / idleP50 : NaN,
        target: `≤ ${TARGET_LATENCY_RATIO}×`,
        'legit sink pps': await sinkRate(legit, watched, from, to)
      })
      floodRows.push({
        flood: c.label,
        sent: results.sent,
        answered: results.answered,
        'took s': results.ms / 1000,
        'req/s answered': results.answered / (results.ms / 1000),
        answers: fmtAnswers(results.answers),
        'pulls sent back': reflected,
        'streams refused': results.refusedStreams,
        'legit pulls during': during.length,
        'legit pulls failed': failures.length
      })
      await Promise.all(identities.map(async (a) => await a.stop()))
    }

    const junkAttacker = await createAttacker(target)
    attackers.push(junkAttacker)
    const junkResult = await junk(junkAttacker)
    await junkAttacker.stop()
    notes.push(`junk: ${junkResult.sessions} sessions of random frames, 1 MiB length prefixes and endless varints; ${junkResult.reset} reset by the node`)

    await sleep(SETTLE_AFTER_MS)
    rss.stop()
    const after = rss.now()
    // Idle again: the machine's own drift (other work on it) shows here, not in the floods' rows.
    const afterFrom = epochNow()
    const afterPulls = await timedPulls(origin, legit, pulled, IDLE_PULLS, () => true)
    await sleep(Math.max(0, IDLE_AFTER_MS - SETTLE_AFTER_MS - (epochNow() - afterFrom)))
    const idleAfter = rss.now()
    rows.push({ phase: 'idle again, after the floods', 'legit pull p50 ms': median(afterPulls), 'max ms': Math.max(...afterPulls), 'ratio to idle': median(afterPulls) / idleP50, target: '', 'legit sink pps': await sinkRate(legit, watched, afterFrom, epochNow()) })
    heading('legitimate pull (call → first RTP packet) and sink rate, idle and during each flood')
    console.log(formatTable(rows))
    heading('the floods: what the attackers got')
    console.log(formatTable(floodRows))
    heading(`flooded node RSS, MB (target: idle after ≤ before + ${TARGET_RSS_GROWTH_MB} MB)`)
    const idleLabel = `idle after (+${IDLE_AFTER_MS / 1000} s)`
    console.log(formatTable([
      { process: 'node (Node.js)', before: before.node, 'peak during': rss.peakNode, [`after (+${SETTLE_AFTER_MS / 1000} s)`]: after.node, [idleLabel]: idleAfter.node, growth: idleAfter.node - before.node, target: `≤ ${TARGET_RSS_GROWTH_MB}` },
      { process: 'mediasoup worker', before: before.worker, 'peak during': rss.peakWorker, [`after (+${SETTLE_AFTER_MS / 1000} s)`]: after.worker, [idleLabel]: idleAfter.worker, growth: idleAfter.worker - before.worker, target: `≤ ${TARGET_RSS_GROWTH_MB}` }
    ]))
    const counts = await origin.request('counts', {})
    notes.push(`flooded node's JS heap in use: ${heapBefore.toFixed(1)} MB before, ${(counts.heapUsedBytes / 2 ** 20).toFixed(1)} MB after; afterwards: peers ${counts.peers}, connections ${counts.connections}, pipes ${JSON.stringify(counts.pipes)}`)
  } finally {
    stopping = true
    await Promise.all(attackers.map(async (a) => await a.stop().catch(() => {})))
    await stopProcesses(nodes)
  }
  notes.push(`load average (1 min) at the end: ${os.loadavg()[0]!.toFixed(1)}`)
  for (const note of notes) console.log(note)
  heading(`JS heap of a flooded node after a full GC (node in this process, ${HEAP_FLOOD} mixed requests per flood)`)
  console.log(formatTable(await heapAfterFloods()))
  if (errors.messages.length > 0) console.log(`background errors: ${errors.messages.length}; first: ${errors.messages.slice(0, 3).join(' | ')}`)
}

/**
 * What a flood leaves behind, without the noise of a heap that has not been collected
 * yet: a node in this process, floods of mixed requests from a new identity each round,
 * then a full GC and the heap in use.
 */
async function heapAfterFloods (): Promise<TableRow[]> {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const heapMb = (): number => {
    gc()
    gc()
    return process.memoryUsage().heapUsed / 2 ** 20
  }
  const node = await createSwarmNode({})
  const rows: TableRow[] = []
  try {
    const baseline = heapMb()
    rows.push({ after: 'start (no flood)', 'heap MB': baseline, growth: 0, target: `≤ ${TARGET_HEAP_GROWTH_MB}` })
    for (let round = 1; round <= HEAP_ROUNDS; round++) {
      const attacker = await createAttacker({ peerId: node.peerId, multiaddrs: node.multiaddrs })
      const result = await flood(attacker, { count: HEAP_FLOOD, kinds: ALL_KINDS, streams: 4, timeoutMs: FLOOD_TIMEOUT_MS })
      await attacker.stop()
      await sleep(500)
      const heap = heapMb()
      rows.push({ after: `flood ${round} (${result.answered} of ${result.sent} answered), attacker gone`, 'heap MB': heap, growth: heap - baseline, target: `≤ ${TARGET_HEAP_GROWTH_MB}` })
    }
  } finally {
    await node.stop()
  }
  return rows
}

export const pipeFloods: Benchmark = {
  name: 'pipe-floods',
  title: 'a node flooded on the pipe protocol by swarm members gone bad: legitimate pull latency and sink rate, answers, reflection, memory',
  run
}
