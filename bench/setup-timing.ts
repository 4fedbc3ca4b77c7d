import '../src/platform/promise-with-resolvers.js'
// The timing of one setup (call → first RTP packet at a sink), shared by the setup-latency
// benchmarks: the in-process one (every node in this process) and the one with a process
// per node (bench/node-process.ts runs these functions inside the requesting node's process).
import { performance as perfHooks } from 'node:perf_hooks'
import { createRtpSink } from '../test/harness/index.js'
import { median, summary } from './common.js'
import type { RtpSink, TableRow } from '../test/harness/index.js'
import type { PullTiming, SwarmNode } from '../src/index.js'
import type { types as ms } from 'mediasoup'

export const TARGET_COLD_P50_MS = 25
export const TARGET_WARM_P50_MS = 8

/** One timed setup; every field in ms, measured with performance.now() in the process that asked. */
export interface Sample {
  /** Call → first RTP packet at the sink (the headline number). */
  total: number
  /** Finding a node that has it (`pulled` event: cache or DHT); NaN for non-swarm cases. */
  lookup: number
  /** Asking it and building the copy (`pulled` totalMs − lookupMs). */
  pull: number
  /** Call → pipeToRouter() resolved (0 for the local case). */
  resolve: number
  /** createRtpSink(): a PlainTransport, its connect and the consumer. */
  sink: number
  /** Sink ready → first packet: mostly waiting for the source's next packet (0…1000/pps ms). */
  wait: number
  /** Event-loop utilisation of the measuring process from call to first packet, %. */
  busy: number
  /**
   * CPU time (user + system, all threads) of the measuring process from call to first
   * packet. Unlike `busy`, not inflated when the process waits for a core.
   */
  cpu: number
}

export interface Timed { sample: Sample, sink: RtpSink, copy?: ms.Producer }

/** CPU time of this process since `since` (a process.cpuUsage() result), ms. */
export function cpuMs (since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since)
  return (user + system) / 1000
}

export async function firstPacket (sink: RtpSink): Promise<number> {
  await sink.waitForPackets(1, { timeoutMs: 5000 })
  // The packet's own arrival time, not the moment the poll noticed it.
  return sink.stats().firstArrival!
}

/** `node.pipeToRouter()` of a producer of another node, then a sink, until its first packet. */
export async function timeSwarmPull (node: SwarmNode, router: ms.Router, producerId: string): Promise<Timed> {
  let timing: PullTiming | undefined
  const onPulled = (t: PullTiming): void => { if (t.producerId === producerId) timing = t }
  node.on('pulled', onPulled)
  try {
    const elu0 = perfHooks.eventLoopUtilization()
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const { pipeProducer } = await node.pipeToRouter({ producerId, router })
    const t1 = performance.now()
    const sink = await createRtpSink({ router, producerId })
    const t2 = performance.now()
    const first = await firstPacket(sink)
    return {
      sample: {
        total: first - t0,
        lookup: timing?.lookupMs ?? NaN,
        pull: timing === undefined ? NaN : timing.totalMs - timing.lookupMs,
        resolve: t1 - t0,
        sink: t2 - t1,
        wait: first - t2,
        busy: perfHooks.eventLoopUtilization(elu0).utilization * 100,
        cpu: cpuMs(cpu0)
      },
      sink,
      copy: pipeProducer
    }
  } finally {
    node.off('pulled', onPulled)
  }
}

/** A sink on the producer's own router, until its first packet (the baseline). */
export async function timeLocalConsume (router: ms.Router, producerId: string): Promise<Timed> {
  const elu0 = perfHooks.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const sink = await createRtpSink({ router, producerId })
  const t2 = performance.now()
  const first = await firstPacket(sink)
  const busy = perfHooks.eventLoopUtilization(elu0).utilization * 100
  return { sample: { total: first - t0, lookup: NaN, pull: NaN, resolve: 0, sink: t2 - t0, wait: first - t2, busy, cpu: cpuMs(cpu0) }, sink }
}

export interface Case { label: string, samples: Sample[], target?: number }

/** A Sample with only `total` (a bare round trip). */
export function totalOnly (total: number): Sample {
  return { total, lookup: NaN, pull: NaN, resolve: NaN, sink: NaN, wait: NaN, busy: NaN, cpu: NaN }
}

/** One line of the setup-latency tables; `cpu` adds the measuring process's CPU time. */
export function row (c: Case, cpu = false): TableRow {
  const s = summary(c.samples.map((x) => x.total))
  const p50 = (pick: (x: Sample) => number): number => median(c.samples.map(pick).filter((x) => !Number.isNaN(x)))
  return {
    case: c.label,
    n: s.n,
    'p50 ms': s.p50,
    'p95 ms': s.p95,
    'max ms': s.max,
    'target p50': c.target === undefined ? '' : `≤ ${c.target} ms ${s.p50 <= c.target ? '(met)' : '(missed)'}`,
    'p50 lookup': p50((x) => x.lookup),
    'p50 pull': p50((x) => x.pull),
    'p50 resolve': p50((x) => x.resolve),
    'p50 sink': p50((x) => x.sink),
    'p50 1st-pkt wait': p50((x) => x.wait),
    'p50 excl. wait': p50((x) => x.total - x.wait),
    'p50 JS busy %': p50((x) => x.busy),
    ...(cpu ? { 'p50 CPU ms': p50((x) => x.cpu) } : {})
  }
}
