import '../src/platform/promise-with-resolvers.js'
// Setup latency: how long from `node.pipeToRouter()` on a node to the first RTP packet of a
// remote producer at a sink on that node, cold (location never looked up by that node) and
// warm (location cached: pulled, released, pulled again). Baselines in the same run: a
// local consumer on the origin, mediasoup's own router.pipeToRouter() between two workers
// of one host, and one bare node-to-node request round trip. Every node runs in this
// process; bench/setup-latency-processes.ts measures the same with a process per node.
import { performance as perfHooks } from 'node:perf_hooks'
import * as mediasoup from 'mediasoup'
import { pipeProtocolId } from '../src/protocol/messages.js'
import { request } from '../src/protocol/rpc.js'
import { createRtpSink, createRtpSource, formatTable, sleep, waitFor } from '../test/harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../test/harness/swarm.js'
import { ErrorLog, heading, median, probeDht, ratio, summary } from './common.js'
import { row, TARGET_COLD_P50_MS, TARGET_WARM_P50_MS, totalOnly } from './setup-timing.js'
import { cpuMs, firstPacket, timeLocalConsume, timeSwarmPull } from '../test/harness/timing.js'
import type { Benchmark } from './common.js'
import type { Case } from './setup-timing.js'
import type { Sample, Timed } from '../test/harness/timing.js'
import type { RtpSource, TableRow } from '../test/harness/index.js'
import type { SwarmNode } from '../src/index.js'
import type { types as ms } from 'mediasoup'

/** Producers per measured case (rotated over the four requesting nodes). */
const COUNT = 32
const PACKETS_PER_SECOND = 50
/** Time given to the origin's DHT announcements of a new batch of producers. */
const ANNOUNCE_SETTLE_MS = 2000

async function timeMediasoupPipe (from: ms.Router, to: ms.Router, producerId: string): Promise<Timed> {
  const elu0 = perfHooks.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  // The options the swarm's own pipes use: SRTP and RTX.
  const { pipeProducer } = await from.pipeToRouter({ producerId, router: to, enableSrtp: true, enableRtx: true })
  const t1 = performance.now()
  const sink = await createRtpSink({ router: to, producerId })
  const t2 = performance.now()
  const first = await firstPacket(sink)
  const busy = perfHooks.eventLoopUtilization(elu0).utilization * 100
  return { sample: { total: first - t0, lookup: NaN, pull: NaN, resolve: t1 - t0, sink: t2 - t1, wait: first - t2, busy, cpu: cpuMs(cpu0) }, sink, copy: pipeProducer }
}

/** Closes the sink and the copy, then waits until both nodes dropped the pull. Returns how long that took. */
async function release (origin: SwarmNode, node: SwarmNode, timed: Timed, producerId: string, nodePipes: number, originPipes: number): Promise<number> {
  const t0 = performance.now()
  timed.sink.close()
  timed.copy?.close()
  await waitFor(() =>
    node.getDistribution(producerId) === undefined &&
    !(origin.getDistribution(producerId)?.downstream.includes(node.peerId) ?? false) &&
    node.pipeStats.incomingPipes === nodePipes &&
    origin.pipeStats.outgoingPipes === originPipes, {
    timeoutMs: 5000,
    what: `release of ${producerId} by ${node.peerId}`,
    progress: () => `node ${JSON.stringify(node.pipeStats)}, origin ${JSON.stringify(origin.pipeStats)}`
  })
  return performance.now() - t0
}

async function createSources (router: ms.Router, count: number): Promise<RtpSource[]> {
  const sources: RtpSource[] = []
  for (let i = 0; i < count; i++) sources.push(await createRtpSource({ router, kind: 'audio', packetsPerSecond: PACKETS_PER_SECOND }))
  return sources
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const nodes = await startChain(5)
  errors.watch(nodes)
  const sources: RtpSource[] = []
  const releaseTimes: number[] = []
  const dialledBefore: number[] = []
  let dhtRows: TableRow[] | undefined
  const cases: Record<string, Case> = {}
  let plain: ms.Worker[] = []
  try {
    await waitConnected(nodes)
    const [origin, ...requesters] = nodes as [SwarmNode, ...SwarmNode[]]
    const originRouter = await origin.createRouter({ mediaCodecs })
    const routers = await Promise.all(requesters.map(async (n) => await n.createRouter({ mediaCodecs })))
    const notConnected = (): number => requesters.filter((n) => !n.peers.includes(origin.peerId)).length

    // ---- 1. no pipe open between the requester and the origin: each pull builds one ----
    const batchA = await createSources(originRouter, COUNT)
    sources.push(...batchA)
    await sleep(ANNOUNCE_SETTLE_MS)
    dialledBefore.push(notConnected())

    const local: Sample[] = []
    for (const source of batchA) {
      const timed = await timeLocalConsume(originRouter, source.producer.id)
      local.push(timed.sample)
      timed.sink.close()
    }
    cases.local = { label: 'local consume on the origin (baseline)', samples: local }

    const coldNew: Sample[] = []
    const warmNew: Sample[] = []
    for (const [i, source] of batchA.entries()) {
      const k = i % requesters.length
      const node = requesters[k]!
      const id = source.producer.id
      const cold = await timeSwarmPull(node, routers[k]!, id)
      coldNew.push(cold.sample)
      releaseTimes.push(await release(origin, node, cold, id, 0, 0))
      const warm = await timeSwarmPull(node, routers[k]!, id)
      warmNew.push(warm.sample)
      releaseTimes.push(await release(origin, node, warm, id, 0, 0))
      source.close()
    }
    cases.coldNew = { label: 'swarm cold, new pipe', samples: coldNew, target: TARGET_COLD_P50_MS }
    cases.warmNew = { label: 'swarm warm, new pipe', samples: warmNew, target: TARGET_WARM_P50_MS }

    // ---- 2. a pipe to the origin stays open (another producer held): pulls reuse it ----
    const anchor = await createRtpSource({ router: originRouter, kind: 'audio', packetsPerSecond: PACKETS_PER_SECOND })
    sources.push(anchor)
    const batchB = await createSources(originRouter, COUNT)
    sources.push(...batchB)
    await sleep(ANNOUNCE_SETTLE_MS)
    await Promise.all(requesters.map(async (n, k) => await n.pipeToRouter({ producerId: anchor.producer.id, router: routers[k]! })))
    const coldOpen: Sample[] = []
    const warmOpen: Sample[] = []
    for (const [i, source] of batchB.entries()) {
      const k = i % requesters.length
      const node = requesters[k]!
      const id = source.producer.id
      const cold = await timeSwarmPull(node, routers[k]!, id)
      coldOpen.push(cold.sample)
      releaseTimes.push(await release(origin, node, cold, id, 1, requesters.length))
      const warm = await timeSwarmPull(node, routers[k]!, id)
      warmOpen.push(warm.sample)
      releaseTimes.push(await release(origin, node, warm, id, 1, requesters.length))
      source.close()
    }
    cases.coldOpen = { label: 'swarm cold, pipe open', samples: coldOpen, target: TARGET_COLD_P50_MS }
    cases.warmOpen = { label: 'swarm warm, pipe open', samples: warmOpen, target: TARGET_WARM_P50_MS }

    // ---- 3. one bare request round trip (new stream, protocol negotiation, 1 frame each way) ----
    const rpc: number[] = []
    const protocol = pipeProtocolId('/mediasoup-swarm')
    for (let i = 0; i < COUNT; i++) {
      const node = requesters[i % requesters.length]!
      const t0 = performance.now()
      await request(node.libp2p, origin.peerId, protocol, { type: 'status' }, 3000)
      rpc.push(performance.now() - t0)
    }
    cases.rpc = { label: 'one node-to-node request (status) round trip', samples: rpc.map(totalOnly) }

    // ---- 4. the DHT operations a pull sets off, alone ----
    dhtRows = await probeDht(nodes, COUNT / 2)
    await stopAll(nodes)

    // ---- 5. mediasoup's router.pipeToRouter() between two workers of this host ----
    plain = [await mediasoup.createWorker({ logLevel: 'warn' }), await mediasoup.createWorker({ logLevel: 'warn' })]
    const from = await plain[0]!.createRouter({ mediaCodecs })
    const batchC = await createSources(from, COUNT)
    sources.push(...batchC)
    await sleep(200)
    const msNew: Sample[] = []
    const msReused: Sample[] = []
    for (const source of batchC) {
      const to = await plain[1]!.createRouter({ mediaCodecs })
      const first = await timeMediasoupPipe(from, to, source.producer.id)
      msNew.push(first.sample)
      first.sink.close()
      first.copy?.close()
      // mediasoup keeps the PipeTransport pair of a router pair: the second pipeToRouter() reuses it.
      const second = await timeMediasoupPipe(from, to, source.producer.id)
      msReused.push(second.sample)
      second.sink.close()
      to.close()
      source.close()
    }
    cases.msNew = { label: 'mediasoup pipeToRouter, new pipe pair', samples: msNew }
    cases.msReused = { label: 'mediasoup pipeToRouter, pipe pair reused', samples: msReused }
  } finally {
    for (const s of sources) s.close()
    await stopAll(nodes)
    for (const w of plain) w.close()
  }

  heading(`setup latency: pipeToRouter() → first RTP packet at a sink (audio, ${PACKETS_PER_SECOND} pps; ${COUNT} producers per case, requesters = nodes 1-4 of a 5-node swarm, origin = node 0)`)
  const order = ['local', 'msNew', 'msReused', 'rpc', 'coldNew', 'warmNew', 'coldOpen', 'warmOpen']
  console.log(formatTable(order.map((k) => row(cases[k]!)), 1))
  console.log('\n(lookup/pull: from the node\'s `pulled` event; resolve: call → pipeToRouter() resolved; sink: createRtpSink();')
  console.log(' 1st-pkt wait: sink ready → first packet, mostly the wait for the source\'s next 20 ms tick; excl. wait = total − that.)')

  const p50 = (k: string, excl = false): number => median(cases[k]!.samples.map((x) => excl ? x.total - x.wait : x.total))
  heading('setup latency ratios (p50 / p50)')
  console.log(formatTable([
    { ratio: 'cold / local', 'new pipe': ratio(p50('coldNew'), p50('local')), 'pipe open': ratio(p50('coldOpen'), p50('local')), 'new pipe, excl. wait': ratio(p50('coldNew', true), p50('local', true)), 'pipe open, excl. wait': ratio(p50('coldOpen', true), p50('local', true)) },
    { ratio: 'warm / local', 'new pipe': ratio(p50('warmNew'), p50('local')), 'pipe open': ratio(p50('warmOpen'), p50('local')), 'new pipe, excl. wait': ratio(p50('warmNew', true), p50('local', true)), 'pipe open, excl. wait': ratio(p50('warmOpen', true), p50('local', true)) },
    { ratio: 'cold / mediasoup pipeToRouter', 'new pipe': ratio(p50('coldNew'), p50('msNew')), 'pipe open': ratio(p50('coldOpen'), p50('msReused')), 'new pipe, excl. wait': ratio(p50('coldNew', true), p50('msNew', true)), 'pipe open, excl. wait': ratio(p50('coldOpen', true), p50('msReused', true)) },
    { ratio: 'warm / mediasoup pipeToRouter', 'new pipe': ratio(p50('warmNew'), p50('msNew')), 'pipe open': ratio(p50('warmOpen'), p50('msReused')), 'new pipe, excl. wait': ratio(p50('warmNew', true), p50('msNew', true)), 'pipe open, excl. wait': ratio(p50('warmOpen', true), p50('msReused', true)) }
  ]))
  heading('the DHT operations behind a pull, alone (same 5-node swarm, keys nobody else uses)')
  console.log(formatTable(dhtRows ?? []))
  console.log('(a 5-node swarm with k = 20 stores every provider record on every node, so the first provider comes from the')
  console.log(' local store; the query to the other nodes goes on after it, in the background of the pull. JS busy: all')
  console.log(' five nodes share this process.)')

  const rel = summary(releaseTimes)
  console.log(`\nrequesters not connected to the origin before the first pull: ${dialledBefore[0]} of 4`)
  console.log(`release (close copy → both nodes dropped it): p50 ${rel.p50.toFixed(1)} ms, max ${rel.max.toFixed(1)} ms over ${rel.n}`)
  errors.print('setup-latency')
}

export const setupLatency: Benchmark = { name: 'setup-latency', title: 'pipeToRouter() → first packet, cold and warm, with baselines', run }
