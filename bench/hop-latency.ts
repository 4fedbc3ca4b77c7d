import '../src/platform/promise-with-resolvers.js'
// Hop latency: a chain A → B → C (fan-out 1, so C receives through relay B). Every packet
// of the source on A carries its send time; sinks on A (local consumer), B and C give its
// one-way latency at each node, and the same packet matched across sinks gives the time
// each pipe hop adds.
import { createRtpSink, createRtpSource, formatTable, sleep } from '../test/harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../test/harness/swarm.js'
import { ErrorLog, heading } from './common.js'
import { latencyStats } from '../test/harness/report.js'
import type { Benchmark } from './common.js'
import type { MediaKind, RtpSink, TableRow } from '../test/harness/index.js'
import type { SwarmNode } from '../src/index.js'

const PACKETS_PER_SECOND = 100
const MEASURE_MS = 6000
const WARMUP_MS = 500
const TARGET_PER_HOP_MS = 0.5

/** Send time (the source's stamp) → arrival, per packet; keyed by the stamp. */
function arrivalsBySendTime (sink: RtpSink): Map<string, number> {
  const bySend = new Map<string, number>()
  const { arrivals, latencies } = sink
  for (let i = 0; i < Math.min(arrivals.length, latencies.length); i++) {
    bySend.set((arrivals[i]! - latencies[i]!).toFixed(4), latencies[i]!)
  }
  return bySend
}

/** Per-packet latency difference downstream − upstream, over packets both received. */
function pairedDeltas (upstream: Map<string, number>, downstream: Map<string, number>): number[] {
  const deltas: number[] = []
  for (const [key, latency] of downstream) {
    const before = upstream.get(key)
    if (before !== undefined) deltas.push(latency - before)
  }
  return deltas
}

async function measure (kind: MediaKind, nodes: SwarmNode[], notes: string[]): Promise<TableRow[]> {
  const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
  const routerA = await a.createRouter({ mediaCodecs })
  const source = await createRtpSource({ router: routerA, kind, packetsPerSecond: PACKETS_PER_SECOND })
  const sinks: RtpSink[] = []
  try {
    await sleep(1000) // DHT announcement
    const routerB = await b.createRouter({ mediaCodecs })
    const routerC = await c.createRouter({ mediaCodecs })
    await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    await c.pipeToRouter({ producerId: source.producer.id, router: routerC })
    const upstreamOfC = c.getDistribution(source.producer.id)?.upstream
    if (upstreamOfC !== b.peerId) notes.push(`${kind}: C's upstream is ${upstreamOfC === a.peerId ? 'A' : String(upstreamOfC)}, not B: the chain is not A → B → C`)
    const route = c.getDistribution(source.producer.id)?.route.map((p) => p === a.peerId ? 'A' : p === b.peerId ? 'B' : p === c.peerId ? 'C' : p).join(' → ')
    notes.push(`${kind}: route at C: ${route}`)
    for (const router of [routerA, routerB, routerC]) sinks.push(await createRtpSink({ router, producerId: source.producer.id }))
    await Promise.all(sinks.map(async (s) => await s.waitForPackets(1, { timeoutMs: 5000 })))
    await sleep(WARMUP_MS)
    for (const s of sinks) s.reset()
    const sent0 = source.sent
    await sleep(MEASURE_MS)
    source.stop()
    await sleep(150) // packets in flight
    const sent = source.sent - sent0
    const byNode = sinks.map(arrivalsBySendTime)
    const rows: TableRow[] = []
    const names = ['A (origin, local consumer)', 'B (1 pipe hop)', 'C (2 pipe hops, via B)']
    sinks.forEach((sink, i) => {
      const s = latencyStats(sink.latencies)
      rows.push({ kind, sink: names[i]!, packets: sink.packets, 'of sent': sent, 'median ms': s.p50, 'p95 ms': s.p95, 'p99 ms': s.p99, 'max ms': s.max, target: '' })
    })
    for (const [label, up, down] of [['added by hop A → B (B − A)', 0, 1], ['added by hop B → C (C − B)', 1, 2]] as const) {
      const s = latencyStats(pairedDeltas(byNode[up]!, byNode[down]!))
      rows.push({ kind, sink: label, packets: s.count, 'of sent': sent, 'median ms': s.p50, 'p95 ms': s.p95, 'p99 ms': s.p99, 'max ms': s.max, target: `≤ ${TARGET_PER_HOP_MS} ms ${s.p50 <= TARGET_PER_HOP_MS ? '(met)' : '(missed)'}` })
    }
    return rows
  } finally {
    for (const s of sinks) s.close()
    source.close()
  }
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const notes: string[] = []
  const rows: TableRow[] = []
  for (const kind of ['audio', 'video'] as const) {
    // A fresh chain per kind: nothing of the previous run's pipes or caches is left.
    const nodes = await startChain(3, { fanout: 1 })
    errors.watch(nodes)
    try {
      await waitConnected(nodes)
      rows.push(...await measure(kind, nodes, notes))
    } finally {
      await stopAll(nodes)
    }
  }
  heading(`hop latency: one-way latency per node on A → B → C (fan-out 1), ${PACKETS_PER_SECOND} pps, ${MEASURE_MS / 1000} s per kind`)
  console.log(formatTable(rows, 3))
  console.log('\n(latency = sink arrival − send time stamped by the source, both performance.now() in this process;')
  console.log(' hop rows pair the same packet at both sinks and take the per-packet difference.)')
  for (const n of notes) console.log(n)
  errors.print('hop-latency')
}

export const hopLatency: Benchmark = { name: 'hop-latency', title: 'per-hop one-way latency through a relay chain', run }
