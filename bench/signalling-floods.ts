import '../src/platform/promise-with-resolvers.js'
// Signalling floods (issue 11): two node binaries on loopback, A and B; a legitimate
// viewer on B consumes producers published on A (each consume pulls a new producer from A)
// while an attacker holding a valid token floods B's signalling: 5 000 requests at once,
// 500 connections, 2 000 transports, 640 consumes of random ids; then the same from 50
// addresses. Prints the legitimate consume's latency idle and during each flood (target
// ≤ 2× idle), what the limits let through, and B's memory (node process and its mediasoup
// worker) before, at the peak of and after the floods (target: back to the baseline once
// the flood's connections are closed). Every flood is bounded; only loopback is targeted.
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import { WebSocket } from 'ws'
import { formatTable, sleep } from '../test/harness/index.js'
import { killAll, LOCAL, startBinary } from '../test/cli/binary.js'
import { TestClient } from '../test/signalling/test-client.js'
import { createClientToken } from '../src/signalling/token.js'
import { DEFAULT_LIMITS } from '../src/signalling/client-limits.js'
import { heading, summary } from './common.js'
import type { Benchmark } from './common.js'
import type { Binary } from '../test/cli/binary.js'
import type { TableRow } from '../test/harness/index.js'
import type { types as ms } from 'mediasoup'

const SECRET = 'a-bench-secret-of-at-least-32-characters'
const SAMPLES = 5
const ATTACKER = '127.0.0.2'
/** The distributed flood's addresses: 127.0.1.1 … 127.0.1.50. */
const DISTRIBUTED = Array.from({ length: 50 }, (_, i) => `127.0.1.${i + 1}`)
const SETTLE_MS = 6000
/** Memory is back when within this of the baseline. */
const BASELINE_MARGIN_MB = 10

const opus = (ssrc: number): ms.RtpParameters => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] })

/** Resident memory in MB of `pid` and of its mediasoup workers (its child processes). */
function memoryOf (pid: number): { node: number, worker: number } {
  const rss = (p: number | string): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN) / 1024
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== '')
  return { node: rss(pid), worker: children.reduce((n, c) => n + rss(c), 0) }
}

/** A flood connection: counts replies by result and remembers how it closed. */
class FloodConnection {
  readonly replies = new Map<string, number>()
  readonly opened: Promise<boolean>
  closeCode: number | undefined
  /** The first transport this connection created. */
  transportId: string | undefined

  constructor (url: string, localAddress: string) {
    const ws = this.ws = new WebSocket(url, { localAddress })
    ws.on('message', (raw) => {
      const reply = JSON.parse(String(raw)) as { ok?: boolean, data?: { id?: unknown, iceParameters?: unknown }, error?: { name: string } }
      if (reply.ok === true && reply.data?.iceParameters !== undefined) this.transportId ??= reply.data.id as string
      const key = reply.ok === true ? 'ok' : reply.error?.name ?? 'other'
      this.replies.set(key, (this.replies.get(key) ?? 0) + 1)
    })
    ws.on('error', () => {})
    this.opened = new Promise((resolve) => {
      ws.once('close', (code) => { this.closeCode = code; resolve(false) })
      // A refused connection is closed right after the upgrade.
      ws.once('open', () => setTimeout(() => resolve(ws.readyState === WebSocket.OPEN), 100))
    })
  }

  private readonly ws: WebSocket

  get open (): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  send (count: number, request: (i: number) => Record<string, unknown>): void {
    for (let i = 0; i < count; i++) this.ws.send(JSON.stringify({ id: i + 1, ...request(i) }))
  }

  total (): number {
    return [...this.replies.values()].reduce((a, b) => a + b, 0)
  }

  close (): void {
    this.ws.terminate()
  }
}

function sumReplies (connections: readonly FloodConnection[]): Record<string, number> {
  const sums: Record<string, number> = {}
  for (const c of connections) for (const [k, n] of c.replies) sums[k] = (sums[k] ?? 0) + n
  return sums
}

async function floodConnections (url: string, addresses: readonly string[], count: number): Promise<FloodConnection[]> {
  const connections = Array.from({ length: count }, (_, i) => new FloodConnection(url, addresses[i % addresses.length] as string))
  await Promise.all(connections.map(async (c) => await c.opened))
  return connections
}

async function run (): Promise<void> {
  const binaries: Binary[] = []
  const env = { MEDIASOUP_SWARM_TOKEN_SECRET: SECRET }
  const common = [...LOCAL, '--signalling', '--log-level', 'error', '--drain-timeout', '0']
  const flood: FloodConnection[] = []
  try {
    const a = await startBinary(common, env)
    binaries.push(a)
    const b = await startBinary([...common, '--bootstrap', a.multiaddrs[0] as string], env)
    binaries.push(b)
    const token = await createClientToken({ secret: SECRET, sub: 'bench', expiresInSeconds: 600, grants: { publish: true, consume: true } })
    const urlA = `${a.signallingUrl as string}?token=${token}`
    const urlB = `${b.signallingUrl as string}?token=${token}`
    const publisher = await TestClient.open(urlA)
    const viewer = await TestClient.open(urlB)
    const sendId = (await publisher.ok('createWebRtcTransport', { direction: 'send' })).id as string
    const recvId = (await viewer.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    const rtpCapabilities = await viewer.ok('getRouterRtpCapabilities')
    let ssrc = 1000

    /** One legitimate consume of a producer just published on A: ms, or the error name. */
    const legit = async (): Promise<number | string> => {
      const { id: producerId } = await publisher.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opus(ssrc++) })
      const t0 = performance.now()
      const reply = await viewer.request('consume', { transportId: recvId, producerId, rtpCapabilities })
      const took = performance.now() - t0
      await publisher.ok('closeProducer', { producerId })
      if (!reply.ok) return reply.error.name
      await viewer.ok('closeConsumer', { consumerId: (reply.data as { id: string }).id })
      return took
    }

    let peak = { node: 0, worker: 0 }
    const sampler = setInterval(() => {
      const m = memoryOf(b.child.pid as number)
      peak = { node: Math.max(peak.node, m.node), worker: Math.max(peak.worker, m.worker) }
    }, 200)

    const latencyRows: TableRow[] = []
    const floodRows: TableRow[] = []
    let idleP50 = NaN
    const measure = async (phase: string, during: () => Promise<string>): Promise<void> => {
      const samples: number[] = []
      const refused: string[] = []
      let let_through = ''
      for (let i = 0; i < SAMPLES; i++) {
        const [outcome, result] = await Promise.all([during(), legit()])
        let_through = outcome
        if (typeof result === 'number') samples.push(result)
        else refused.push(result)
      }
      const s = summary(samples)
      if (phase === 'idle') idleP50 = s.p50
      latencyRows.push({
        phase,
        'consume p50 ms': s.p50,
        'p95 ms': s.p95,
        'max ms': s.max,
        refused: refused.length === 0 ? 0 : refused.join(' '),
        target: phase === 'idle' ? '—' : `≤ ${(2 * idleP50).toFixed(0)} ms (2× idle)`,
        met: phase === 'idle' ? '—' : s.p50 <= 2 * idleP50 && refused.length === 0 ? 'yes' : 'NO'
      })
      if (phase !== 'idle') floodRows.push({ flood: phase, 'let through (last round)': let_through })
    }

    for (let i = 0; i < 3; i++) await legit() // warm-up: first pulls, spare transports
    await measure('idle', async () => '')
    await sleep(1000)
    const baseline = memoryOf(b.child.pid as number)
    peak = { ...baseline }

    await measure('5 000 requests at once (1 connection)', async () => {
      const [c] = await floodConnections(urlB, [ATTACKER], 1)
      flood.push(c as FloodConnection)
      c!.send(5000, () => ({ method: 'listProducers' }))
      const deadline = performance.now() + 5000
      while (c!.total() < 5000 && performance.now() < deadline) await sleep(20)
      const r = sumReplies([c!])
      c!.close()
      return `${r.ok ?? 0} answered, ${r.RateLimited ?? 0} RateLimited`
    })

    await measure('500 connections (1 address)', async () => {
      const conns = await floodConnections(urlB, [ATTACKER], 500)
      const open = conns.filter((c) => c.open).length
      const refused = conns.filter((c) => c.closeCode === 4429).length
      for (const c of conns) c.close()
      return `${open} open, ${refused} closed 4429`
    })

    const attack = async (addresses: readonly string[], connections: number, what: 'transports' | 'lookups'): Promise<string> => {
      const conns = (await floodConnections(urlB, addresses, connections)).filter((c) => c.open)
      flood.push(...conns)
      if (what === 'transports') {
        conns.forEach((c, i) => c.send(Math.ceil(2000 / conns.length) - (i < (Math.ceil(2000 / conns.length) * conns.length - 2000) ? 1 : 0), () => ({ method: 'createWebRtcTransport', data: { direction: 'recv' } })))
      } else {
        conns.forEach((c) => c.send(1, () => ({ method: 'createWebRtcTransport', data: { direction: 'recv' } })))
        const deadline = performance.now() + 5000
        while (conns.some((c) => c.transportId === undefined) && performance.now() < deadline) await sleep(20)
        conns.forEach((c, i) => c.send(Math.ceil(640 / conns.length) - (i < (Math.ceil(640 / conns.length) * conns.length - 640) ? 1 : 0), () => ({ method: 'consume', data: { transportId: c.transportId, producerId: randomUUID(), rtpCapabilities } })))
      }
      await sleep(what === 'transports' ? 1500 : 200)
      const r = sumReplies(conns)
      return `${conns.length} connections; replies: ${Object.entries(r).map(([k, n]) => `${k} ${n}`).join(', ')}`
    }
    const closeFlood = (): void => { for (const c of flood.splice(0)) c.close() }

    await measure('2 000 transports (1 address)', async () => { closeFlood(); return await attack([ATTACKER], DEFAULT_LIMITS.maxConnectionsPerIp, 'transports') })
    closeFlood()
    await measure('640 consumes of random ids (1 address)', async () => { closeFlood(); return await attack([ATTACKER], DEFAULT_LIMITS.maxConnectionsPerIp, 'lookups') })
    closeFlood()
    await sleep(SETTLE_MS)
    await measure('500 connections, 2 000 transports (50 addresses)', async () => { closeFlood(); return await attack(DISTRIBUTED, 500, 'transports') })
    closeFlood()
    await sleep(SETTLE_MS)
    await measure('640 consumes of random ids (50 addresses)', async () => { closeFlood(); return await attack(DISTRIBUTED, 500, 'lookups') })
    closeFlood()
    await sleep(SETTLE_MS)
    clearInterval(sampler)
    const after = memoryOf(b.child.pid as number)
    const metrics = await (await fetch(`${b.httpUrl}metrics`)).text()
    const refusals = [...metrics.matchAll(/mediasoup_swarm_signalling_refusals_total\{reason="([^"]+)"\} (\d+)/g)].filter((m) => m[2] !== '0').map((m) => `${m[1]} ${m[2]}`)
    const connections = /mediasoup_swarm_signalling_connections (\d+)/.exec(metrics)?.[1]

    heading('a legitimate consume (pull of a new producer from A) while B\'s signalling is flooded')
    console.log(formatTable(latencyRows))
    heading('what the limits let through (defaults)')
    console.log(formatTable(floodRows))
    heading(`B's memory (RSS, MB), ${SETTLE_MS / 1000} s after the last flood's connections closed`)
    const back = (base: number, now: number): string => now <= base + BASELINE_MARGIN_MB ? 'yes' : 'NO'
    console.log(formatTable([
      { process: 'node (B)', before: baseline.node, peak: peak.node, after: after.node, target: `≤ before + ${BASELINE_MARGIN_MB}`, met: back(baseline.node, after.node) },
      { process: 'mediasoup worker (B)', before: baseline.worker, peak: peak.worker, after: after.worker, target: `≤ before + ${BASELINE_MARGIN_MB}`, met: back(baseline.worker, after.worker) }
    ]))
    console.log(`\nB after the floods: ${connections ?? '?'} signalling connections open (the viewer's); refusals counted: ${refusals.join(', ')}`)
    publisher.close()
    viewer.close()
  } finally {
    for (const c of flood) c.close()
    for (const binary of binaries) await binary.stop('SIGTERM').catch(() => {})
    killAll(binaries)
  }
}

export const signallingFloods: Benchmark = {
  name: 'signalling-floods',
  title: 'a legitimate consume and node memory while a client with a token floods the signalling (requests, connections, transports, random-id consumes)',
  run
}
