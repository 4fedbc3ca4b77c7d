// Timing of what a benchmark or test measures, run in the process that asks (also inside
// a node process of its own, see process-node.ts): a pull or a local consume until the
// first RTP packet at a sink, and the DHT operations a pull sets off.
import { performance as perfHooks } from 'node:perf_hooks'
import { createRtpSink } from './rtp-sink.js'
import type { RtpSink } from './rtp-sink.js'
import type { PullTiming, SwarmNode } from '../../src/index.js'
import type { CID } from 'multiformats/cid'
import type { types as ms } from 'mediasoup'

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

/** One round of the DHT probe: a `provide` and a `findProviders` of a key nobody else uses. */
export interface DhtProbe {
  /** provide(): ms, and the event-loop utilisation of the announcing process meanwhile (%). */
  provide: number
  provideBusy: number
  /** findProviders(): ms to the first provider and to the end of the query, and the seeking process's utilisation (%). */
  first: number
  complete: number
  findBusy: number
}

/** `node` announces `key` (as an origin does for a producer and a node for each copy). */
export async function timeProvide (node: SwarmNode, key: CID): Promise<Pick<DhtProbe, 'provide' | 'provideBusy'>> {
  const elu0 = perfHooks.eventLoopUtilization()
  const t0 = performance.now()
  await node.libp2p.contentRouting.provide(key, { signal: AbortSignal.timeout(10_000) })
  return { provide: performance.now() - t0, provideBusy: perfHooks.eventLoopUtilization(elu0).utilization * 100 }
}

/** `node` looks `key` up (as a cold pull does) and reads the query to its end. */
export async function timeFindProviders (node: SwarmNode, key: CID): Promise<Pick<DhtProbe, 'first' | 'complete' | 'findBusy'>> {
  const elu0 = perfHooks.eventLoopUtilization()
  const t0 = performance.now()
  let first = NaN
  for await (const _ of node.libp2p.contentRouting.findProviders(key, { signal: AbortSignal.timeout(10_000) })) {
    if (Number.isNaN(first)) first = performance.now() - t0
  }
  return { first, complete: performance.now() - t0, findBusy: perfHooks.eventLoopUtilization(elu0).utilization * 100 }
}
