import '../src/platform/promise-with-resolvers.js'
// Setup latency as in setup-latency.ts, but with every node of the 5-node swarm in a Node.js
// process of its own (bench/node-process.ts), as in production: each node's control plane
// (libp2p, DHT, pipe protocol) has its own JavaScript thread. Every sample is timed inside
// the requesting node's process. The sources send at 500 packets/s, so the wait for the
// next packet after the sink is ready is at most ≈ 2 ms; each source runs only from
// ≈ 100 ms before its own measurements until they end, so one sends at a time.
import os from 'node:os'
import { formatTable, sleep, waitFor } from '../test/harness/index.js'
import { dhtRows, ErrorLog, heading, median, probeName, probePair, ratio, summary } from './common.js'
import { startProcessChain, stopProcesses, waitProcessesConnected } from '../test/harness/process-node.js'
import { row, TARGET_COLD_P50_MS, TARGET_WARM_P50_MS, totalOnly } from './setup-timing.js'
import type { Benchmark } from './common.js'
import type { DhtProbe, Sample } from '../test/harness/timing.js'
import type { TableRow } from '../test/harness/index.js'
import type { RemoteNode } from '../test/harness/process-node.js'
import type { Case } from './setup-timing.js'

const NODES = 5
/** Producers per measured case (rotated over the four requesting nodes). */
const COUNT = 32
const PACKETS_PER_SECOND = 500
/** Time given to the origin's DHT announcements of a new batch of producers. */
const ANNOUNCE_SETTLE_MS = 2000
/** A source starts sending this long before its first measurement. */
const SOURCE_LEAD_MS = 100
/**
 * Producers pulled cold and warm, unmeasured, before the measurements: a node that has
 * run a while has its code optimised by V8; a new process needs a few pulls for that
 * (without them the first measured pulls take ≈ 20 % longer). In the in-process benchmark
 * the one process gets every node's work, so its code is optimised sooner.
 */
const WARMUP_COUNT = 16

async function createSources (origin: RemoteNode, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await origin.request('createSource', { kind: 'audio', packetsPerSecond: PACKETS_PER_SECOND })).producerId)
  return ids
}

/**
 * Releases a timed pull: the node closes its sink and copy and waits until it no longer has
 * the producer; then this waits until the origin dropped the node's downstream pipe.
 * Returns how long all that took.
 */
async function release (origin: RemoteNode, node: RemoteNode, producerId: string, nodePipes: number, originPipes: number): Promise<number> {
  const t0 = performance.now()
  await node.request('release', { producerId, incomingPipes: nodePipes })
  let last = ''
  await waitFor(async () => {
    const [distribution, stats] = await Promise.all([origin.request('getDistribution', { producerId }), origin.request('pipeStats', {})])
    last = `origin ${JSON.stringify(stats)}, downstream ${JSON.stringify(distribution?.downstream ?? [])}`
    return !(distribution?.downstream.includes(node.peerId) ?? false) && stats.outgoingPipes === originPipes
  }, { timeoutMs: 5000, what: `release of ${producerId} by node ${node.index} at the origin`, progress: () => last })
  return performance.now() - t0
}

/** Cold then warm pull of each producer, requesters in rotation; each source runs only meanwhile. */
async function coldAndWarm (origin: RemoteNode, requesters: RemoteNode[], ids: string[], nodePipes: number, originPipes: number, releaseTimes: number[]): Promise<{ cold: Sample[], warm: Sample[] }> {
  const cold: Sample[] = []
  const warm: Sample[] = []
  for (const [i, producerId] of ids.entries()) {
    const node = requesters[i % requesters.length]!
    await origin.request('startSource', { producerId })
    await sleep(SOURCE_LEAD_MS)
    cold.push(await node.request('timedPull', { producerId }))
    releaseTimes.push(await release(origin, node, producerId, nodePipes, originPipes))
    warm.push(await node.request('timedPull', { producerId }))
    releaseTimes.push(await release(origin, node, producerId, nodePipes, originPipes))
    await origin.request('closeSource', { producerId })
  }
  return { cold, warm }
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const loadBefore = os.loadavg()[0]!
  let stopping = false
  const t0 = performance.now()
  const nodes = await startProcessChain(NODES, (i, text) => errors.add(i, stopping ? `(while the swarm stops) ${text}` : text))
  const startMs = performance.now() - t0
  const releaseTimes: number[] = []
  const cases: Record<string, Case> = {}
  let notConnectedBefore: number
  let dhtTable: TableRow[]
  try {
    await waitProcessesConnected(nodes)
    const [origin, ...requesters] = nodes as [RemoteNode, ...RemoteNode[]]

    // ---- 1. no pipe open between the requester and the origin: each pull builds one ----
    const warmup = await createSources(origin, WARMUP_COUNT)
    const batchA = await createSources(origin, COUNT)
    await sleep(ANNOUNCE_SETTLE_MS)
    const peers = await Promise.all(requesters.map(async (n) => (await n.request('info', {})).peers))
    notConnectedBefore = peers.filter((p) => !p.includes(origin.peerId)).length
    await coldAndWarm(origin, requesters, warmup, 0, 0, [])

    const local: Sample[] = []
    for (const producerId of batchA) {
      await origin.request('startSource', { producerId })
      await sleep(SOURCE_LEAD_MS)
      local.push(await origin.request('timedLocal', { producerId }))
      await origin.request('stopSource', { producerId })
    }
    cases.local = { label: 'local consume on the origin (baseline)', samples: local }

    const fresh = await coldAndWarm(origin, requesters, batchA, 0, 0, releaseTimes)
    cases.coldNew = { label: 'swarm cold, new pipe', samples: fresh.cold, target: TARGET_COLD_P50_MS }
    cases.warmNew = { label: 'swarm warm, new pipe', samples: fresh.warm, target: TARGET_WARM_P50_MS }

    // ---- 2. a pipe to the origin stays open (another producer held, silent): pulls reuse it ----
    const [anchor] = await createSources(origin, 1)
    const batchB = await createSources(origin, COUNT)
    await sleep(ANNOUNCE_SETTLE_MS)
    await Promise.all(requesters.map(async (n) => await n.request('pull', { producerId: anchor! })))
    const open = await coldAndWarm(origin, requesters, batchB, 1, requesters.length, releaseTimes)
    cases.coldOpen = { label: 'swarm cold, pipe open', samples: open.cold, target: TARGET_COLD_P50_MS }
    cases.warmOpen = { label: 'swarm warm, pipe open', samples: open.warm, target: TARGET_WARM_P50_MS }

    // ---- 3. one bare request round trip, timed in the requesting process ----
    const rpc: number[] = []
    for (let i = 0; i < COUNT; i++) rpc.push(await requesters[i % requesters.length]!.request('statusRoundTrip', { peerId: origin.peerId }))
    cases.rpc = { label: 'one node-to-node request (status) round trip', samples: rpc.map(totalOnly) }

    // ---- 4. the DHT operations a pull sets off, alone, each timed in its node's process ----
    const probes: DhtProbe[] = []
    for (let i = 0; i < COUNT / 2; i++) {
      const name = probeName(i)
      const { announcer, seeker } = probePair(nodes, i)
      const provided = await announcer.request('dhtProvide', { name }, 15_000)
      probes.push({ ...provided, ...await seeker.request('dhtFind', { name }, 15_000) })
    }
    dhtTable = dhtRows(probes)
  } finally {
    stopping = true
    await stopProcesses(nodes)
  }
  const loadAfter = os.loadavg()[0]!

  heading(`setup latency, one process per node (audio, ${PACKETS_PER_SECOND} pps; ${COUNT} producers per case, requesters = nodes 1-4 of a 5-node swarm, origin = node 0)`)
  const order = ['local', 'rpc', 'coldNew', 'warmNew', 'coldOpen', 'warmOpen']
  console.log(formatTable(order.map((k) => row(cases[k]!, true)), 1))
  console.log(`\n(after ${WARMUP_COUNT} unmeasured cold + warm pulls; every sample timed inside the requesting node's process.`)
  console.log(' lookup/pull: from the node\'s `pulled` event; resolve: call → pipeToRouter() resolved; sink: createRtpSink();')
  console.log(` 1st-pkt wait: sink ready → first packet (≤ ${1000 / PACKETS_PER_SECOND} ms between packets); excl. wait = total − that; JS busy: event-loop`)
  console.log(' utilisation of the requesting process only; CPU: its CPU time meanwhile, which unlike JS busy does not count')
  console.log(' time spent waiting for a core.)')

  const p50 = (k: string, excl = false): number => median(cases[k]!.samples.map((x) => excl ? x.total - x.wait : x.total))
  heading('setup latency ratios, one process per node (p50 / p50)')
  console.log(formatTable(['cold', 'warm'].map((w) => ({
    ratio: `${w} / local`,
    'new pipe': ratio(p50(`${w}New`), p50('local')),
    'pipe open': ratio(p50(`${w}Open`), p50('local')),
    'new pipe, excl. wait': ratio(p50(`${w}New`, true), p50('local', true)),
    'pipe open, excl. wait': ratio(p50(`${w}Open`, true), p50('local', true))
  }))))

  heading('the DHT operations behind a pull, alone, one process per node (keys nobody else uses)')
  console.log(formatTable(dhtTable))
  console.log('(timed in the announcing / seeking node\'s process; JS busy: that process only.)')

  const rel = summary(releaseTimes)
  console.log(`\n${NODES} node processes started in ${(startMs / 1000).toFixed(1)} s`)
  console.log(`load average (1 min) before / after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)} on ${os.cpus().length} cores`)
  console.log(`requesters not connected to the origin before the first pull: ${notConnectedBefore} of ${NODES - 1}`)
  console.log(`release (close copy → both nodes dropped it, incl. IPC polling): p50 ${rel.p50.toFixed(1)} ms, max ${rel.max.toFixed(1)} ms over ${rel.n}`)
  errors.print('setup-latency-processes')
}

export const setupLatencyProcesses: Benchmark = {
  name: 'setup-latency-processes',
  title: 'pipeToRouter() → first packet, cold and warm, one Node.js process per node (500 pps)',
  run
}
