import '../src/platform/promise-with-resolvers.js'
// A swarm of N node processes on this machine (N = 10, 25, 50; 2 cores), all inside one
// network namespace of their own so that the loopback counters there count their traffic
// and nothing else. Nodes start one after the other, each bootstrapping from a random
// earlier one. Random origins and requesters; every pull is a cold pull of a producer the
// requester never had (pipeToRouter() → the copy usable, timed in the requester's
// process), of producers made ≥ 2 s before, then of producers made 100 ms before, after
// a round of the same pulls to warm the processes up (printed apart). Then the
// idle control traffic, the connections and the memory of each node; then five nodes join
// one after the other, each pulling at once. Last, the same pulls with a central directory in Redis instead
// (swarm-scale-redis.ts), on the same nodes, with new producers once the others are closed.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { formatTable, sleep } from '../test/harness/index.js'
import { bundleNodeProcess, RemoteNode, stopProcesses } from '../test/harness/process-node.js'
import { ErrorLog, heading, processCpuSeconds, summary } from './common.js'
import { clearSwarm, measureCentral, printCentral } from './swarm-scale-redis.js'
import type { CentralResult } from './swarm-scale-redis.js'
import type { Benchmark } from './common.js'
import type { NodeCounts, PullSample } from '../test/harness/process-node.js'
import { DEFAULT_TIMEOUTS } from '../src/index.js'
import { DHT_UPKEEP_INTERVAL_MS } from '../src/p2p/host.js'
import { namespacesFor } from '../src/logger.js'
import type { SwarmNodeOptions } from '../src/index.js'

const SIZES = (process.env.SWARM_SCALE_SIZES ?? '10,25,50').split(',').map(Number)
/**
 * Pulls of each kind per size; 0 measures the swarm at rest and the join only (no central
 * design either): `SWARM_SCALE_SIZES=100 SWARM_SCALE_PULLS=0` shows the idle traffic past
 * the connection limit without a 100-node pull run.
 */
const PULLS = Number(process.env.SWARM_SCALE_PULLS ?? 200)
/**
 * Pulls of each kind in a round before the measured one, on the same swarm (then every
 * producer and copy is closed): steady-state processes, as in a swarm that has run a while.
 * Printed apart, as "warm-up"; 0 measures the first pulls of just-started processes.
 */
const WARMUP_PULLS = Number(process.env.SWARM_SCALE_WARMUP ?? 100)
/**
 * A directory for the nodes' debug logs, one file per node (`N<size>-node<index>.log`), so
 * that a failed pull can be traced (a failure names its requester and the time). Unset: the
 * nodes log warnings and errors to this process's output.
 */
const LOG_DIR = process.env.SWARM_SCALE_LOGS
/** A directory for a CPU profile of each node process (`--cpu-prof`), written as it exits. */
const PROFILE_DIR = process.env.SWARM_SCALE_PROFILES
const OLD_PRODUCERS_AGE_MS = 2000
const FRESH_PRODUCER_AGE_MS = 100
/**
 * After the last node started: its first DHT walks (self-query, table refresh) and the
 * trims of the connections they opened are over within about a minute at N = 50.
 */
const SETTLE_MS = 60_000
/** Producers each node has while the swarm is at rest. */
const LIVE_PRODUCERS = 2
/**
 * The swarm at rest: once the live producers' announcements are over (each original's DHT
 * record is a walk and ~20 stores, 2 s after it is made, two at a time per node), a window
 * as long as the longest periodic task (pings, re-announcements to the homes: 60 s).
 */
const IDLE_SETTLE_MS = 60_000
const IDLE_WINDOW_MS = 60_000
/**
 * DHT walks timed after the window to price what a window of 60 s misses: each original's
 * DHT record, put 5 min after it is made (timeouts.dhtProvideDelay) and again every half of
 * timeouts.dhtRecordValidity (a walk and ≈ 20 stores), and kad-dht's upkeep every
 * DHT_UPKEEP_INTERVAL_MS: a walk to the node's own id, and one per common-prefix length of
 * its table (≈ log2 N + 1) where kad-dht runs its table refresh (16.4.5 never does: the
 * nodes report it, NodeCounts.dhtTableRefreshRuns). Their bytes per walk, spread over those
 * intervals, are added to the idle traffic.
 */
const PRICED_WALKS = 10
/** Newcomers that join the swarm at rest, one after the other, each pulling at once. */
const JOINS = 5

export const SCALE_TARGETS = {
  oldP50: 30, oldP95: 100, freshP50: 60, freshP95: 200, idleBytesPerSecond: 2048, joinToPullMs: 1000
}

/** A network namespace with loopback up, whose loopback counters count what its processes send. */
class Namespace {
  readonly name = `mss-scale-${process.pid}`

  constructor () {
    ip('netns', 'add', this.name)
    ip('-n', this.name, 'link', 'set', 'lo', 'up')
  }

  /** Bytes through the namespace's loopback so far (every byte one node sends another). */
  loopbackBytes (): number {
    const r = spawnSync('ip', ['netns', 'exec', this.name, 'cat', '/sys/class/net/lo/statistics/tx_bytes'], { encoding: 'utf8' })
    return Number(r.stdout.trim())
  }

  remove (): void {
    spawnSync('ip', ['netns', 'del', this.name])
  }
}

/** CPU time of a process and its children (its mediasoup worker), in seconds, from /proc. */
function cpuSeconds (pid: number): number {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)
    return [String(pid), ...children].reduce((sum, p) => sum + processCpuSeconds(p), 0)
  } catch {
    return NaN
  }
}

function ip (...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${String(r.status)}`} (the scale benchmark needs root)`)
}

function pick<T> (items: readonly T[], not?: T): T {
  for (;;) {
    const item = items[Math.floor(Math.random() * items.length)]!
    if (item !== not || items.length === 1) return item
  }
}

interface ScaleResult {
  n: number
  startSeconds: number
  old: PullSample[]
  fresh: PullSample[]
  /** Connections the swarm opened during the measured old / fresh pulls (each counted once): the pulls' own and what they set off. */
  openedOld: number
  openedFresh: number
  /** The unmeasured round before (WARMUP_PULLS of each kind). */
  warmup: { old: PullSample[], fresh: PullSample[] }
  /** Failed pulls of every round (the warm-up's say so). */
  failed: string[]
  idleBytesPerSecond: number
  /** Bytes of one DHT walk with its stores (provide) on the swarm; re-provides and kad-dht upkeep per node per second, amortized. */
  bytesPerWalk: number
  /** Bytes of one DHT find walk; kad-dht's upkeep walks per DHT_UPKEEP_INTERVAL_MS, priced at that. */
  bytesPerFindWalk: number
  upkeepWalks: number
  reprovideBytesPerSecond: number
  /** CPU per node during the idle window, % of one core. */
  idleCpu: number[]
  /** Connections opened during the idle window, per node per minute (each counted once). */
  idleDialsPerMinute: number
  connections: number[]
  rss: number[]
  /** Newcomers' start → their first pull done, ms (a failed pull is not here: it is in `failed`). */
  joinToPullMs: number[]
  /** The central design's pulls on the same swarm, after everything else. */
  central?: CentralResult
}

/** Connections the nodes opened so far, summed (a connection counts at both of its ends). */
async function openedConnections (nodes: RemoteNode[]): Promise<number> {
  const counts: NodeCounts[] = await Promise.all(nodes.map(async (node) => await node.request('counts', {})))
  return counts.reduce((sum, c) => sum + c.connectionsOpened, 0)
}

async function measure (n: number, options: SwarmNodeOptions, errors: ErrorLog): Promise<ScaleResult> {
  // Compiled once, as production runs it: N processes compiling TypeScript through tsx
  // would load the machine at start and add ≈ 60 MB to each node's memory.
  const entry = await bundleNodeProcess()
  const ns = new Namespace()
  const nodes: RemoteNode[] = []
  const failed: string[] = []
  try {
    // The processes load in parallel (a few at a time: loading is the CPU-heavy part).
    for (let i = 0; i < n; i += 5) {
      nodes.push(...await Promise.all(Array.from({ length: Math.min(5, n - i) }, async (_, j) =>
        await RemoteNode.spawn(i + j, (text) => errors.add(i + j, text), {
          netns: ns.name,
          entry,
          ...(LOG_DIR === undefined ? {} : { logFile: path.join(LOG_DIR, `N${n}-node${i + j}.log`), env: { DEBUG: namespacesFor('debug'), PROCESS_NODE_STALL_MS: '250' } }),
          ...(PROFILE_DIR === undefined ? {} : { execArgv: ['--cpu-prof', '--cpu-prof-interval=10000', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=N${n}-node${i + j}.cpuprofile`] })
        }))))
    }
    const started = performance.now()
    for (const [i, node] of nodes.entries()) {
      await node.start({ ...options, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : pick(nodes.slice(0, i)).multiaddrs })
    }
    const startSeconds = (performance.now() - started) / 1000
    await sleep(SETTLE_MS)

    // A failure says which pulls fail (old, fresh or a newcomer's) and after how long.
    const pull = async (requester: RemoteNode, producerId: string, into: PullSample[], kind: string): Promise<void> => {
      const p0 = performance.now()
      try {
        into.push(await requester.request('pull', { producerId }, 10_000))
      } catch (err) {
        failed.push(`${kind} producer at node ${requester.index}, ${new Date().toISOString()}, after ${Math.round(performance.now() - p0)} ms: ${(err as Error).message.slice(0, 160)}`)
      }
    }
    const round = async (pulls: number, label: string): Promise<{ old: PullSample[], fresh: PullSample[], openedOld: number, openedFresh: number }> => {
      // Producers made ≥ 2 s before their pull.
      const old: Array<{ origin: RemoteNode, producerId: string }> = []
      for (let i = 0; i < pulls; i++) {
        const origin = pick(nodes)
        old.push({ origin, producerId: (await origin.request('createSource', { kind: 'audio', packetsPerSecond: 50 })).producerId })
      }
      await sleep(OLD_PRODUCERS_AGE_MS)
      const samples = { old: [] as PullSample[], fresh: [] as PullSample[] }
      // Both ends count a connection: half the sum is the connections the swarm opened.
      const opened0 = await openedConnections(nodes)
      for (const { origin, producerId } of old) await pull(pick(nodes, origin), producerId, samples.old, `${label}old`)
      const opened1 = await openedConnections(nodes)
      // Producers made 100 ms before their pull (a participant joins and is watched at once).
      for (let i = 0; i < pulls; i++) {
        const origin = pick(nodes)
        const { producerId } = await origin.request('createSource', { kind: 'audio', packetsPerSecond: 50 })
        await sleep(FRESH_PRODUCER_AGE_MS)
        await pull(pick(nodes, origin), producerId, samples.fresh, `${label}fresh`)
      }
      const opened2 = await openedConnections(nodes)
      return { ...samples, openedOld: (opened1 - opened0) / 2, openedFresh: (opened2 - opened1) / 2 }
    }
    // The processes' code paths are compiled and optimised as they run: the first pulls of a
    // swarm of just-started processes are slower (section 6, session 17), and the central
    // design, measured last, would run on warmed processes only.
    let warmup: { old: PullSample[], fresh: PullSample[] } = { old: [], fresh: [] }
    if (WARMUP_PULLS > 0 && PULLS > 0) {
      warmup = await round(WARMUP_PULLS, 'warm-up, ')
      await clearSwarm(nodes)
    }
    const { old: oldSamples, fresh: freshSamples, openedOld, openedFresh } = await round(PULLS, '')

    // At rest: the benchmark's producers and copies closed, each node with LIVE_PRODUCERS of
    // its own (announced, sending nothing: only control traffic is counted).
    await Promise.all(nodes.map(async (node) => await node.request('closeAll', {})))
    const live: string[] = []
    for (const node of nodes) for (let i = 0; i < LIVE_PRODUCERS; i++) live.push((await node.request('createSource', { kind: 'audio', packetsPerSecond: 50 })).producerId)
    await sleep(IDLE_SETTLE_MS)
    const opened0 = await openedConnections(nodes)
    const bytes0 = ns.loopbackBytes()
    const cpu0 = nodes.map((node) => cpuSeconds(node.pid!))
    const t0 = performance.now()
    await sleep(IDLE_WINDOW_MS)
    const windowSeconds = (performance.now() - t0) / 1000
    const idleBytesPerSecond = (ns.loopbackBytes() - bytes0) / windowSeconds / n
    const idleCpu = nodes.map((node, i) => 100 * (cpuSeconds(node.pid!) - cpu0[i]!) / windowSeconds)
    // Both ends count a connection: half the sum is the connections the swarm opened.
    const idleDialsPerMinute = ((await openedConnections(nodes)) - opened0) / 2 / n / (windowSeconds / 60)
    // The swarm's own idle traffic goes on during the walks: what it sends meanwhile (the
    // window's rate) is not the walks' (56 KB/s at N = 100, counted in full before).
    // A walk that does not end is reported among the background errors, not the end of the run.
    const walksBytes = async (command: 'dhtProvide' | 'dhtFind', name: string): Promise<number> => {
      const b0 = ns.loopbackBytes()
      const w0 = performance.now()
      let walks = 0
      for (let i = 0; i < PRICED_WALKS; i++) {
        const node = pick(nodes)
        await node.request(command, { name: `${name}-${i}` }, 15_000)
          .then(() => { walks++ }, (err: Error) => errors.add(node.index, `the benchmark's ${command}: ${err.message}`))
      }
      const background = idleBytesPerSecond * n * (performance.now() - w0) / 1000
      return walks === 0 ? NaN : Math.max(0, ns.loopbackBytes() - b0 - background) / walks
    }
    const bytesPerWalk = await walksBytes('dhtProvide', 'priced-walk')
    const bytesPerFindWalk = await walksBytes('dhtFind', 'priced-find')
    const counts: NodeCounts[] = await Promise.all(nodes.map(async (node) => await node.request('counts', {})))
    // The table refresh's walks count only where kad-dht runs it (16.4.5 does not).
    const upkeepWalks = 1 + (counts.some((c) => c.dhtTableRefreshRuns) ? 1 + Math.ceil(Math.log2(n)) : 0)
    const reprovideBytesPerSecond = bytesPerWalk * LIVE_PRODUCERS / (DEFAULT_TIMEOUTS.dhtRecordValidity / 2 / 1000) +
      bytesPerFindWalk * upkeepWalks / (DHT_UPKEEP_INTERVAL_MS / 1000)

    // Newcomers join, one after the other, each through a random node of the swarm, and
    // pull a producer at once; a failed pull counts among the failures.
    const joinToPullMs: number[] = []
    for (let i = 0; i < JOINS; i++) {
      const newcomer = await RemoteNode.spawn(n + i, (text) => errors.add(n + i, text), { netns: ns.name, entry })
      nodes.push(newcomer)
      const j0 = performance.now()
      await newcomer.start({ ...options, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: pick(nodes.slice(0, n)).multiaddrs })
      const joinSamples: PullSample[] = []
      await pull(newcomer, pick(live), joinSamples, 'join')
      if (joinSamples.length === 1) joinToPullMs.push(performance.now() - j0)
    }
    // Last, so that the numbers above are those of the DHT design alone.
    const central = PULLS === 0 ? undefined : await measureCentral(ns.name, nodes.slice(0, n), { pulls: PULLS, oldAgeMs: OLD_PRODUCERS_AGE_MS, freshAgeMs: FRESH_PRODUCER_AGE_MS })

    return {
      n,
      startSeconds,
      old: oldSamples,
      fresh: freshSamples,
      openedOld,
      openedFresh,
      warmup,
      failed,
      idleBytesPerSecond,
      bytesPerWalk,
      bytesPerFindWalk,
      upkeepWalks,
      reprovideBytesPerSecond,
      idleCpu,
      idleDialsPerMinute,
      connections: counts.map((c) => c.connections),
      rss: counts.map((c) => c.rssBytes + c.workerRssBytes),
      joinToPullMs,
      central
    }
  } finally {
    await stopProcesses(nodes)
    ns.remove()
  }
}

const met = (ok: boolean): string => ok ? 'met' : 'missed'

export function printScale (results: ScaleResult[]): void {
  const t = SCALE_TARGETS
  heading('cold pulls (pipeToRouter() → copy usable), ms; one OS process per node')
  console.log(formatTable(results.filter((r) => r.old.length + r.failed.length > 0).map((r) => {
    const old = summary(msOf(r.old))
    const fresh = summary(msOf(r.fresh))
    return {
      nodes: r.n,
      'made ≥ 2 s before: p50': old.p50.toFixed(1),
      p95: old.p95.toFixed(1),
      [`≤ ${t.oldP50} / ${t.oldP95}`]: met(old.p50 <= t.oldP50 && old.p95 <= t.oldP95),
      'made 100 ms before: p50': fresh.p50.toFixed(1),
      'p95 ': fresh.p95.toFixed(1),
      [`≤ ${t.freshP50} / ${t.freshP95}`]: met(fresh.p50 <= t.freshP50 && fresh.p95 <= t.freshP95),
      failed: `${r.failed.length}/${2 * (PULLS + WARMUP_PULLS)}`,
      'failed = 0': met(r.failed.length === 0)
    }
  })))
  heading('the swarm at rest, and joining')
  console.log(formatTable(results.map((r) => {
    const conns = summary(r.connections)
    const rss = summary(r.rss)
    const cpu = summary(r.idleCpu)
    const join = summary(r.joinToPullMs)
    const idle = r.idleBytesPerSecond + r.reprovideBytesPerSecond
    return {
      nodes: r.n,
      'start, s': r.startSeconds.toFixed(1),
      'idle control traffic per node, B/s': r.idleBytesPerSecond.toFixed(0),
      '+ DHT re-provides and upkeep (a provide; a find × upkeep walks), amortized': `${r.reprovideBytesPerSecond.toFixed(0)} (${(r.bytesPerWalk / 1024).toFixed(1)} KiB; ${(r.bytesPerFindWalk / 1024).toFixed(1)} KiB × ${r.upkeepWalks})`,
      [`sum ≤ ${t.idleBytesPerSecond}`]: met(idle <= t.idleBytesPerSecond),
      'idle CPU per node p50 / max, %': `${cpu.p50.toFixed(2)} / ${cpu.max.toFixed(2)}`,
      'connections per node p50 / max': `${conns.p50} / ${conns.max}`,
      'opened at rest per node per min': r.idleDialsPerMinute.toFixed(2),
      'RSS node + worker p50 / max, MB (harness)': `${(rss.p50 / 2 ** 20).toFixed(0)} / ${(rss.max / 2 ** 20).toFixed(0)}`,
      [`join → first pull p50 / max (${JOINS} joins), ms`]: `${join.p50.toFixed(0)} / ${join.max.toFixed(0)}`,
      [`p50 ≤ ${t.joinToPullMs}`]: met(r.joinToPullMs.length === JOINS && join.p50 <= t.joinToPullMs)
    }
  })))
  // The ≤ 80 MB target is the shipped binary's at rest: these processes carry the harness too.
  console.log('  (RSS (harness): the benchmark\'s node processes, harness code included, after the pulls; the ≤ 80 MB target is the binary\'s: npx tsx bench/run.ts idle-memory)')
  for (const r of results) for (const f of [...new Set(r.failed)].slice(0, 5)) console.log(`  N=${r.n} failed: ${f}`)
  if (results.some((r) => r.failed.length > 0)) console.log(LOG_DIR === undefined ? '  (SWARM_SCALE_LOGS=<dir> keeps every node\'s debug log)' : `  (the nodes' debug logs: ${LOG_DIR})`)
  printByConnection(results)
  printGrowth(results)
  printCentral(results.filter((r) => r.central !== undefined))
}

const msOf = (samples: readonly PullSample[]): number[] => samples.map((s) => s.ms)

/**
 * The pulls split by whether the requester had a connection with the node that served it:
 * a pull that opens one pays a handshake and both ends' work on a new connection (identify,
 * the DHT's table, records handed over) before its request is answered. Beside it, the
 * connections the whole swarm opened during the measured pulls of each kind: more than the
 * pulls opened themselves is work they set off elsewhere.
 */
function printByConnection (results: ScaleResult[]): void {
  heading('cold pulls by connection: over a connection the requester had, or one it opened (p50 / p95, ms)')
  console.log(formatTable(results.flatMap((r) => {
    const designs: Array<[string, PullSample[], PullSample[], number?, number?]> = [['DHT', r.old, r.fresh, r.openedOld, r.openedFresh]]
    if (r.warmup.old.length > 0) designs.unshift(['DHT warm-up', r.warmup.old, r.warmup.fresh])
    if (r.central !== undefined && r.central.error === undefined) designs.push(['Redis', r.central.old, r.central.fresh])
    return designs.flatMap(([design, old, fresh, openedOld, openedFresh]) => ([['made ≥ 2 s before', old, openedOld], ['made 100 ms before', fresh, openedFresh]] as const).map(([age, samples, opened]) => {
      // '—' for a part with no pull (at N = 10 every node is connected to every other).
      const p50p95 = (part: PullSample[]): string => {
        if (part.length === 0) return '—'
        const { p50, p95 } = summary(msOf(part))
        return `${p50.toFixed(1)} / ${p95.toFixed(1)}`
      }
      return {
        nodes: r.n,
        design,
        producers: age,
        'opened a connection': `${samples.filter((s) => s.dialled).length}/${samples.length}`,
        'over a connection': p50p95(samples.filter((s) => !s.dialled)),
        'opening one': p50p95(samples.filter((s) => s.dialled)),
        // More than the pulls opened: connections they set off elsewhere (DHT pings, records to homes).
        'opened swarm-wide': opened === undefined ? '—' : `${opened}`
      }
    }))
  })))
}

/**
 * How the idle traffic per node grows between sizes, beside what O(log N) and O(N) would
 * give: nearer O(log N) when the ratio is below the geometric mean of the two.
 */
function printGrowth (results: ScaleResult[]): void {
  const sorted = [...results].sort((a, b) => a.n - b.n)
  if (sorted.length < 2) return
  const idle = (r: ScaleResult): number => r.idleBytesPerSecond + r.reprovideBytesPerSecond
  heading('idle traffic per node, growth between sizes: O(log N), not O(N)?')
  console.log(formatTable(sorted.slice(1).map((r, i) => {
    const before = sorted[i]!
    const measured = idle(r) / idle(before)
    const logN = Math.log(r.n) / Math.log(before.n)
    const linear = r.n / before.n
    return {
      sizes: `${before.n} → ${r.n}`,
      'B/s': `${idle(before).toFixed(0)} → ${idle(r).toFixed(0)}`,
      measured: `×${measured.toFixed(2)}`,
      'O(log N)': `×${logN.toFixed(2)}`,
      'O(N)': `×${linear.toFixed(2)}`,
      'connections p50': `${summary(before.connections).p50} → ${summary(r.connections).p50}`,
      'nearer O(log N)': met(measured <= Math.sqrt(logN * linear))
    }
  })))
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const results: ScaleResult[] = []
  for (const n of SIZES) {
    results.push(await measure(n, {}, errors))
    // Each size as soon as it is measured: a long run shows its progress.
    printScale(results.slice(-1))
  }
  if (results.length > 1) printScale(results)
  errors.print('swarm-scale')
}

export const swarmScale: Benchmark = { name: 'swarm-scale', title: 'N = 10, 25, 50 node processes: cold pulls, idle traffic, connections, memory, joining; a central directory in Redis side by side', run }
