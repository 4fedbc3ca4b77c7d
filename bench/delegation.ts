import '../src/platform/promise-with-resolvers.js'
// Delegation: N = 1…12 nodes subscribe at once to one audio producer of an origin, with
// delegation (fan-out 2: the origin redirects to relays) and without (fan-out 100: the
// origin serves everyone). Per N and mode: pipes and packets per second the origin sends,
// time until every subscriber has its first packet, and depth of the distribution tree.
import { performance as perfHooks } from 'node:perf_hooks'
import { createRtpSink, createRtpSource, formatTable, sleep, waitFor } from '../test/harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../test/harness/swarm.js'
import { ErrorLog, heading, median, probeDht } from './common.js'
import type { Benchmark } from './common.js'
import type { RtpSink, TableRow } from '../test/harness/index.js'
import type { SwarmNode } from '../src/index.js'
import type { types as ms } from 'mediasoup'
import type { PullTiming } from '../src/index.js'

const SUBSCRIBERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
const MODES = [{ label: 'fo2', fanout: 2 }, { label: 'fo100', fanout: 100 }] as const
const PACKETS_PER_SECOND = 50
const EGRESS_WINDOW_MS = 2000
/** Time given to the DHT announcement of each round's new producer before the subscribers ask. */
const ANNOUNCE_SETTLE_MS = 1000

interface RoundResult {
  n: number
  originPipes: number
  egressPps: number
  egressKbps: number
  /** Call → first packet, slowest subscriber / median subscriber (ms). */
  allFirstMs: number
  medianFirstMs: number
  depth: number
  /** Nodes holding a copy that are not subscribers (recruited relays). */
  relays: number
  /** Highest loss among the subscribers from their first packet to the end of the window (sequence gaps), %. */
  maxLossPercent: number
  failures: number
  cleanupMs: number
  /** From the subscribers' `pulled` events: slowest lookup, median pull, most redirects. */
  maxLookupMs: number
  medianPulledMs: number
  maxRedirects: number
  /** Event-loop utilisation of this process (every node's JS) from the calls to the last first packet, %. */
  busyPercent: number
  /** Full error messages of failed pulls and of a round that did not clean up. */
  problems: string[]
}

/** Every pipe consumer the origin router creates (there are no other consumers on it here). */
function trackPipeConsumers (router: ms.Router): ms.Consumer[] {
  const consumers: ms.Consumer[] = []
  router.observer.on('newtransport', (transport) => {
    transport.observer.on('newconsumer', (consumer) => {
      if (consumer.type !== 'pipe') return
      consumers.push(consumer)
      consumer.observer.once('close', () => consumers.splice(consumers.indexOf(consumer), 1))
    })
  })
  return consumers
}

async function sentCounts (consumers: ms.Consumer[], producerId: string): Promise<{ packets: number, bytes: number }> {
  let packets = 0
  let bytes = 0
  for (const consumer of consumers.filter((c) => c.producerId === producerId && !c.closed)) {
    const stats = await consumer.getStats().catch(() => [])
    for (const s of stats) {
      if (s.type !== 'outbound-rtp') continue
      packets += s.packetCount
      bytes += s.byteCount
    }
  }
  return { packets, bytes }
}

function isClean (nodes: SwarmNode[], origin: SwarmNode, producerId: string): boolean {
  return nodes.every((n) => {
    const p = n.pipeStats
    return p.outgoingPipes === 0 && p.incomingPipes === 0 && p.outgoingConsumers === 0 && p.incomingProducers === 0 &&
      (n === origin || n.producerIds().length === 0)
  }) && origin.getDistribution(producerId) === undefined
}

async function round (n: number, nodes: SwarmNode[], routers: ms.Router[], originRouter: ms.Router, pipeConsumers: ms.Consumer[]): Promise<RoundResult> {
  const [origin, ...others] = nodes as [SwarmNode, ...SwarmNode[]]
  // A new producer each round, created only now (an older one would be re-announced by
  // the DHT in the middle of later rounds).
  const source = await createRtpSource({ router: originRouter, kind: 'audio', packetsPerSecond: PACKETS_PER_SECOND })
  const producerId = source.producer.id
  await sleep(ANNOUNCE_SETTLE_MS)
  const subscribers = others.slice(0, n)
  const sinks: RtpSink[] = []
  const problems: string[] = []
  const timings: PullTiming[] = []
  const onPulled = (t: PullTiming): void => { if (t.producerId === producerId) timings.push(t) }
  for (const node of subscribers) node.on('pulled', onPulled)
  let failures = 0
  const elu0 = perfHooks.eventLoopUtilization()
  const t0 = performance.now()
  const firsts = await Promise.all(subscribers.map(async (node, i) => {
    try {
      const router = routers[i]!
      await node.pipeToRouter({ producerId, router })
      const sink = await createRtpSink({ router, producerId })
      sinks.push(sink)
      await sink.waitForPackets(1, { timeoutMs: 10_000 })
      return sink.stats().firstArrival! - t0
    } catch (err) {
      failures++
      problems.push(`subscriber ${i + 1}: ${(err as Error).name}: ${(err as Error).message}`)
      return NaN
    }
  }))
  const busyPercent = perfHooks.eventLoopUtilization(elu0).utilization * 100
  for (const node of subscribers) node.off('pulled', onPulled)

  const atOrigin = origin.getDistribution(producerId)
  const holders = others.filter((node) => node.getDistribution(producerId) !== undefined)
  const depth = Math.max(0, ...holders.map((node) => node.getDistribution(producerId)!.route.length - 1))
  const relays = holders.filter((node) => !subscribers.includes(node)).length

  const egress0 = await sentCounts(pipeConsumers, producerId)
  const w0 = performance.now()
  await sleep(EGRESS_WINDOW_MS)
  const egress1 = await sentCounts(pipeConsumers, producerId)
  const seconds = (performance.now() - w0) / 1000
  const losses = sinks.map((s) => { const st = s.stats(); return st.lost / (st.packets + st.lost) * 100 })

  const c0 = performance.now()
  for (const s of sinks) s.close()
  source.close()
  let cleanupMs = NaN
  try {
    await waitFor(() => isClean(nodes, origin, producerId), { timeoutMs: 10_000, what: 'all pipes and copies gone' })
    cleanupMs = performance.now() - c0
  } catch {
    problems.push(`not clean 10 s after the source closed: pipeStats ${nodes.map((x) => JSON.stringify(x.pipeStats)).join(' ')}`)
  }
  const ok = firsts.filter((x) => !Number.isNaN(x))
  return {
    n,
    originPipes: atOrigin?.downstream.length ?? 0,
    egressPps: (egress1.packets - egress0.packets) / seconds,
    egressKbps: (egress1.bytes - egress0.bytes) * 8 / 1000 / seconds,
    allFirstMs: failures > 0 ? NaN : Math.max(...ok),
    medianFirstMs: median(ok),
    depth,
    relays,
    maxLossPercent: losses.length === 0 ? NaN : Math.max(...losses),
    failures,
    cleanupMs,
    maxLookupMs: timings.length === 0 ? NaN : Math.max(...timings.map((t) => t.lookupMs)),
    medianPulledMs: median(timings.map((t) => t.totalMs)),
    maxRedirects: timings.length === 0 ? NaN : Math.max(...timings.map((t) => t.redirects)),
    busyPercent,
    problems
  }
}

async function runMode (fanout: number, errors: ErrorLog, dhtProbes: number): Promise<{ results: RoundResult[], startMs: number, dht: TableRow[] }> {
  const t0 = performance.now()
  const nodes = await startChain(1 + Math.max(...SUBSCRIBERS), { fanout, timeouts: { lookup: 8000 } })
  errors.watch(nodes)
  try {
    await waitConnected(nodes, 15_000)
    const startMs = performance.now() - t0
    const [origin, ...others] = nodes as [SwarmNode, ...SwarmNode[]]
    const originRouter = await origin.createRouter({ mediaCodecs })
    const pipeConsumers = trackPipeConsumers(originRouter)
    // Each subscriber keeps one router for all rounds; every round ends with no copy left.
    const routers = await Promise.all(others.map(async (node) => await node.createRouter({ mediaCodecs })))
    const results: RoundResult[] = []
    for (const n of SUBSCRIBERS) results.push(await round(n, nodes, routers, originRouter, pipeConsumers))
    const dht = dhtProbes > 0 ? await probeDht(nodes, dhtProbes) : []
    return { results, startMs, dht }
  } finally {
    await stopAll(nodes)
  }
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const byMode = new Map<string, RoundResult[]>()
  const starts: string[] = []
  let dhtRows: TableRow[] = []
  for (const [i, mode] of MODES.entries()) {
    const { results, startMs, dht } = await runMode(mode.fanout, errors, i === MODES.length - 1 ? 4 : 0)
    if (dht.length > 0) dhtRows = dht
    byMode.set(mode.label, results)
    starts.push(`${mode.label}: ${1 + Math.max(...SUBSCRIBERS)} nodes started and connected in ${(startMs / 1000).toFixed(1)} s`)
  }
  const f2 = byMode.get('fo2')!
  const f100 = byMode.get('fo100')!

  heading(`delegation: N subscribers pull one audio producer (${PACKETS_PER_SECOND} pps) at once; fo2 = fan-out 2 (delegation), fo100 = fan-out 100 (origin serves all)`)
  const side: TableRow[] = SUBSCRIBERS.map((n, i) => ({
    N: n,
    'origin pipes fo2': f2[i]!.originPipes,
    'origin pipes fo100': f100[i]!.originPipes,
    'origin pkt/s fo2': f2[i]!.egressPps,
    'origin pkt/s fo100': f100[i]!.egressPps,
    'all 1st pkt ms fo2': f2[i]!.allFirstMs,
    'all 1st pkt ms fo100': f100[i]!.allFirstMs,
    'depth fo2': f2[i]!.depth,
    'depth fo100': f100[i]!.depth
  }))
  console.log(formatTable(side, 0))
  console.log('\n(origin pipes: downstream pipes of the producer at the origin; origin pkt/s: RTP packets the origin\'s pipe consumers')
  console.log(` sent, from mediasoup consumer stats over ${EGRESS_WINDOW_MS / 1000} s; all 1st pkt: from the N concurrent pipeToRouter() calls to the`)
  console.log(' last subscriber\'s first packet; depth: longest route origin → node, in pipe hops.)')

  heading('delegation: details per round')
  const details: TableRow[] = []
  for (const [label, results] of byMode) {
    for (const r of results) {
      details.push({
        mode: label,
        N: r.n,
        'origin kbit/s': r.egressKbps,
        'median 1st pkt ms': r.medianFirstMs,
        'max lookup ms': r.maxLookupMs,
        'median pulled ms': r.medianPulledMs,
        'max redirects': r.maxRedirects,
        'recruited relays': r.relays,
        'JS busy %': r.busyPercent,
        'max loss %': r.maxLossPercent,
        'failed pulls': r.failures,
        'cleanup ms': r.cleanupMs
      })
    }
  }
  console.log(formatTable(details, 1))
  console.log('\n(max lookup / median pulled / max redirects: from the subscribers\' `pulled` events (lookup = until the first node')
  console.log(' that has it was asked; pulled = call → copy created); recruited relays: nodes holding a copy that did not subscribe;')
  console.log(' JS busy: event-loop utilisation of this one process, which runs all 13 nodes\' libp2p; max loss: highest share of')
  console.log(' sequence numbers missing at a subscriber, first packet to end of the egress window; cleanup: source closed → no pipe')
  console.log(' or copy left on any node.)')
  const problems = [...byMode].flatMap(([label, results]) => results.flatMap((r) => r.problems.map((p) => `${label} N=${r.n}: ${p}`)))
  if (problems.length > 0) {
    console.log('\nproblems:')
    for (const p of problems) console.log(`  ${p}`)
  }
  heading(`the DHT operations behind a pull, alone (same ${1 + Math.max(...SUBSCRIBERS)}-node swarm, after the rounds, keys nobody else uses)`)
  console.log(formatTable(dhtRows))
  console.log('(a cold pull runs one findProviders; every node that gets a copy runs one provide. All nodes share this process.)\n')
  for (const s of starts) console.log(s)
  errors.print('delegation')
}

export const delegation: Benchmark = { name: 'delegation', title: 'origin egress, time to first packet and tree depth vs subscribers, with and without delegation', run }
