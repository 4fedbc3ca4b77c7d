// The control plane at N = 50 … 10 000 nodes, simulated (no media, no sockets): routing
// tables modelled on @libp2p/kad-dht v16's k-bucket trie, kad-dht's queries, joins,
// self-queries and refreshes, provider records with the node's validity and reprovide
// timing. Two directories are compared on the same built swarm: the home fast path (records
// sent to R homes; a lookup asks its own R closest peers first, a Kademlia lookup if they
// have nothing) and plain kad-dht (provide / findProviders, what src/directory runs today).
// Per swarm size: lookup hops, messages per pull, records per node, control bytes per node
// per second, routing-table sizes. Deterministic for a seed. bench/sim/ holds the model;
// docs/benchmarks.md section 4 describes the method.
import { fork } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { DEFAULT_TIMEOUTS } from '../src/node/options.js'
import { formatTable } from '../test/harness/index.js'
import { heading, summary } from './common.js'
import { WireSizes } from './sim/wire-sizes.js'
import type { Benchmark } from './common.js'
import type { ScenarioTask } from './sim/scenario-process.js'
import type { DesignResult, MeanCost, ScenarioResult, SimParameters } from './sim/scenario.js'
import type { TableRow } from '../test/harness/index.js'

const second = 1000
const minute = 60 * second

const SEED = 1
const SWARM_SIZES = [50, 100, 1000, 10_000]
/** kad-dht's kBucketSize as the node runs it, and a variant. */
const BUCKET_SIZES = [20, 8]
/** Homes per record (R) and the fast path's fallback lookup. */
const HOMES = 3
const FALLBACK_ALPHA = 3
const FALLBACK_DISJOINT_PATHS = 1

// kad-dht v16 as the node configures it (src/p2p/host.ts sets none of these: defaults).
const KAD_ALPHA = 10
const KAD_DISJOINT_PATHS = KAD_ALPHA
const PREFIX_LENGTH = 6
const OLD_CONTACTS_TO_PING = 3
const LAST_PING_THRESHOLD_MS = 10 * minute
/** QuerySelf takes its first K events, K being kad-dht's constant 20 whatever kBucketSize is. */
const SELF_QUERY_EVENT_LIMIT = 20
const MAX_REFRESH_COMMON_PREFIX = 15
const QUERY_SELF_INTERVAL_MS = 5 * minute
const TABLE_REFRESH_INTERVAL_MS = 5 * minute

// Provider records as the node configures them (src/node/swarm-node.ts: reprovide
// interval = validity / 4; src/p2p/host.ts: threshold = validity / 2).
const PROVIDER_VALIDITY_MS = DEFAULT_TIMEOUTS.providerValidity
const REPROVIDE_INTERVAL_MS = PROVIDER_VALIDITY_MS / 4
const REPROVIDE_THRESHOLD_MS = PROVIDER_VALIDITY_MS / 2

// Building the swarm: one join every JOIN_INTERVAL_MS, then SETTLE_MS before measuring.
const JOIN_INTERVAL_MS = 100
const SETTLE_MS = 20 * minute

// Workload.
const PRODUCERS_PER_NODE = 4
const PRODUCER_LIFETIME_MS = 10 * minute
const PULLS_PER_PRODUCER = 3
/** A node announces a copy this long after it has it (src/node). */
const COPY_ANNOUNCE_DELAY_MS = 500
/** Media liveness: one ping per upstream media link per this period. */
const MEDIA_PING_INTERVAL_MS = 10 * second

// Sampling.
const PULL_SAMPLES = 2000
const MAINTENANCE_SAMPLES = 200
const CENSUS_RATE_WINDOW_MS = 5 * minute

// Bytes on the wire (see bench/sim/wire-sizes.ts).
const WIRE = {
  peerIdBytes: 38,
  multiaddrBytes: 20,
  multiaddrsPerPeer: 2,
  keyBytes: 34,
  frameOverheadBytes: 12 + 2 + 16,
  kadProtocol: '/mediasoup-swarm/kad/1.0.0',
  pingProtocol: '/ipfs/ping/1.0.0',
  pingPayloadBytes: 32
}
/**
 * A new connection: multistream-select of /noise and /yamux (≈ 140), the Noise XX
 * handshake (≈ 420), identify both ways (≈ 1 800). Only for the upper-bound column.
 */
const CONNECTION_SETUP_BYTES = 2400
/** Growth from N = 100 to 10 000 "within c·log2(N)": metric(10 000) / metric(100) ≤ c · log2(10 000) / log2(100). */
const GROWTH_C = 1

const PARAMETERS: SimParameters = {
  seed: SEED,
  homes: HOMES,
  fallbackAlpha: FALLBACK_ALPHA,
  fallbackDisjointPaths: FALLBACK_DISJOINT_PATHS,
  kadAlpha: KAD_ALPHA,
  kadDisjointPaths: KAD_DISJOINT_PATHS,
  prefixLength: PREFIX_LENGTH,
  oldContactsToPing: OLD_CONTACTS_TO_PING,
  lastPingThresholdMs: LAST_PING_THRESHOLD_MS,
  selfQueryEventLimit: SELF_QUERY_EVENT_LIMIT,
  maxRefreshCommonPrefix: MAX_REFRESH_COMMON_PREFIX,
  joinIntervalMs: JOIN_INTERVAL_MS,
  settleMs: SETTLE_MS,
  producersPerNode: PRODUCERS_PER_NODE,
  producerLifetimeMs: PRODUCER_LIFETIME_MS,
  pullsPerProducer: PULLS_PER_PRODUCER,
  copyAnnounceDelayMs: COPY_ANNOUNCE_DELAY_MS,
  providerValidityMs: PROVIDER_VALIDITY_MS,
  reprovideIntervalMs: REPROVIDE_INTERVAL_MS,
  reprovideThresholdMs: REPROVIDE_THRESHOLD_MS,
  censusRateWindowMs: CENSUS_RATE_WINDOW_MS,
  pullSamples: PULL_SAMPLES,
  maintenanceSamples: MAINTENANCE_SAMPLES,
  wire: WIRE
}

/** Each scenario in a child process, as many at once as there are cores. */
async function runScenarios (tasks: ScenarioTask[]): Promise<ScenarioResult[]> {
  const entry = fileURLToPath(new URL('./sim/scenario-process.ts', import.meta.url))
  const results: ScenarioResult[] = []
  const queue = [...tasks]
  const worker = async (): Promise<void> => {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      const child = fork(entry, [], { execArgv: ['--import', 'tsx'] })
      results.push(await new Promise<ScenarioResult>((resolve, reject) => {
        child.once('message', (result) => resolve(result as ScenarioResult))
        child.once('exit', (code) => reject(new Error(`scenario N = ${task!.nodes}, K = ${task!.k} exited with ${String(code)}`)))
        child.send(task)
      }))
    }
  }
  await Promise.all(Array.from({ length: Math.min(os.availableParallelism(), tasks.length) }, worker))
  return results.sort((a, b) => b.k - a.k || a.nodes - b.nodes)
}

/** Re-announcement period of a record once it runs on the reprovider's passes (90 s here). */
function steadyReprovidePeriodMs (): number {
  return REPROVIDE_INTERVAL_MS * (Math.floor((PROVIDER_VALIDITY_MS - REPROVIDE_THRESHOLD_MS) / REPROVIDE_INTERVAL_MS) + 1)
}

interface NodeLoad {
  /** Bytes a node sends per second, on average (equal to what it receives). */
  idleBytes: number
  workloadBytes: number
  /** Kad messages and pings a node sends per second with the workload. */
  workloadMessages: number
}

function perSecond (cost: MeanCost, perNodePerSecond: number): { bytes: number, messages: number } {
  return { bytes: cost.bytes * perNodePerSecond, messages: (cost.messages + cost.pings) * perNodePerSecond }
}

function nodeLoad (scenario: ScenarioResult, design: DesignResult, pingBytes: number): NodeLoad {
  const parts = (list: Array<{ bytes: number, messages: number }>): { bytes: number, messages: number } =>
    list.reduce((sum, p) => ({ bytes: sum.bytes + p.bytes, messages: sum.messages + p.messages }), { bytes: 0, messages: 0 })
  const maintenance = [
    perSecond(scenario.selfQuery, second / QUERY_SELF_INTERVAL_MS),
    perSecond(scenario.refresh, second / TABLE_REFRESH_INTERVAL_MS)
  ]
  const idleReprovides = perSecond(design.announce, PRODUCERS_PER_NODE * second / steadyReprovidePeriodMs())
  const pullsPerNodePerSecond = PRODUCERS_PER_NODE / PRODUCER_LIFETIME_MS * second * PULLS_PER_PRODUCER
  const mediaPings = design.upstreamLinksPerNode * second / MEDIA_PING_INTERVAL_MS
  const workload = parts([
    ...maintenance,
    perSecond(design.announce, design.announcesPerNodePerSecond + design.reannouncesPerNodePerSecond),
    perSecond(design.lookup, pullsPerNodePerSecond),
    { bytes: mediaPings * pingBytes, messages: mediaPings }
  ])
  return { idleBytes: parts([...maintenance, idleReprovides]).bytes, workloadBytes: workload.bytes, workloadMessages: workload.messages }
}

function percent (part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${(part / whole * 100).toFixed(1)} %`
}

function lookupRows (results: ScenarioResult[]): TableRow[] {
  return results.flatMap((r) => r.designs.map((d) => {
    const hops = summary(d.fresh.hops)
    const oldHops = summary(d.old.hops)
    const messages = summary(d.messagesPerPull)
    const fast = d.design === 'home fast path'
    return {
      N: r.nodes,
      K: r.k,
      design: d.design,
      'fast hits fresh': fast ? percent(d.fresh.fastHits, d.fresh.count) : '-',
      'fast hits old': fast ? percent(d.old.fastHits, d.old.count) : '-',
      'not found fresh/old': `${d.fresh.count - d.fresh.found}/${d.old.count - d.old.found}`,
      'hops p50': hops.p50,
      'hops p95': hops.p95,
      'hops max': hops.max,
      'old hops p95': oldHops.p95,
      'msgs/pull p50': messages.p50,
      'msgs/pull p95': messages.p95,
      'KB/pull p50': summary(d.bytesPerPull).p50 / 1000
    }
  }))
}

function loadRows (results: ScenarioResult[], pingBytes: number): TableRow[] {
  return results.flatMap((r) => r.designs.map((d) => {
    const table = summary(r.routingTableSizes)
    const records = summary(d.recordsPerNode)
    const load = nodeLoad(r, d, pingBytes)
    return {
      N: r.nodes,
      K: r.k,
      design: d.design,
      'RT size p50': table.p50,
      'RT min': Math.min(...r.routingTableSizes),
      'records/node p50': records.p50,
      'records max': records.max,
      'B/s idle': Math.round(load.idleBytes),
      'B/s workload': Math.round(load.workloadBytes),
      'msgs/s': load.workloadMessages,
      'B/s if each msg dials': Math.round(load.workloadBytes + load.workloadMessages * CONNECTION_SETUP_BYTES),
      'holders in true K closest': percent(d.holdersAmongTrueClosest, 1)
    }
  }))
}

function costRows (results: ScenarioResult[]): TableRow[] {
  return results.flatMap((r) => [
    { N: r.nodes, K: r.k, operation: 'self-query (every 5 min)', msgs: r.selfQuery.messages, aborted: r.selfQuery.aborted, pings: r.selfQuery.pings, KB: r.selfQuery.bytes / 1000 },
    { N: r.nodes, K: r.k, operation: `refresh (every 5 min, ${r.refreshWalks.toFixed(1)} walks)`, msgs: r.refresh.messages, aborted: r.refresh.aborted, pings: r.refresh.pings, KB: r.refresh.bytes / 1000 },
    ...r.designs.flatMap((d) => [
      { N: r.nodes, K: r.k, operation: `${d.design}: announce`, msgs: d.announce.messages, aborted: d.announce.aborted, pings: d.announce.pings, KB: d.announce.bytes / 1000 },
      { N: r.nodes, K: r.k, operation: `${d.design}: lookup`, msgs: d.lookup.messages, aborted: d.lookup.aborted, pings: d.lookup.pings, KB: d.lookup.bytes / 1000 }
    ])
  ])
}

function growthRows (results: ScenarioResult[], pingBytes: number): TableRow[] {
  const small = results.find((r) => r.nodes === 100 && r.k === BUCKET_SIZES[0])
  const large = results.find((r) => r.nodes === 10_000 && r.k === BUCKET_SIZES[0])
  if (small === undefined || large === undefined) return []
  const bound = GROWTH_C * Math.log2(10_000) / Math.log2(100)
  const metrics: Array<[string, (r: ScenarioResult, d: DesignResult) => number]> = [
    ['mean hops (fresh pulls)', (_r, d) => summary(d.fresh.hops).n === 0 ? NaN : d.fresh.hops.reduce((a, b) => a + b, 0) / d.fresh.hops.length],
    ['msgs/pull p95', (_r, d) => summary(d.messagesPerPull).p95],
    ['B/s per node, workload', (r, d) => nodeLoad(r, d, pingBytes).workloadBytes]
  ]
  return small.designs.flatMap((d, i) => metrics.map(([name, metric]) => {
    const before = metric(small, d)
    const after = metric(large, large.designs[i]!)
    const growth = after / before
    return {
      design: d.design,
      metric: name,
      'N = 100': before,
      'N = 10 000': after,
      growth: `${growth.toFixed(2)}×`,
      [`bound (c = ${GROWTH_C})`]: `${bound.toFixed(2)}×`,
      within: growth <= bound ? 'yes' : 'NO'
    }
  }))
}

async function run (): Promise<void> {
  const tasks = BUCKET_SIZES.flatMap((k) => SWARM_SIZES.map((nodes) => ({ params: PARAMETERS, nodes, k })))
    .sort((a, b) => b.nodes - a.nodes || b.k - a.k)
  const started = performance.now()
  const results = await runScenarios(tasks)
  const wallSeconds = (performance.now() - started) / 1000
  const pingBytes = new WireSizes(WIRE).ping()

  heading(`cold pulls: ${PULL_SAMPLES} per swarm (${PULLS_PER_PRODUCER} per new producer) + one pull per producer after its copies announced ("old"); R = ${HOMES}`)
  console.log(formatTable(lookupRows(results)))
  console.log('(hops: query rounds until a provider is named, 0 when the puller holds a record; msgs/pull: the lookup\'s requests + the copy\'s announcement)')
  heading(`load per node: ${PRODUCERS_PER_NODE} live producers per node, ${PRODUCER_LIFETIME_MS / minute} min each, ${PULLS_PER_PRODUCER} pulls each; records valid ${PROVIDER_VALIDITY_MS / second} s, re-announced every ${steadyReprovidePeriodMs() / second} s`)
  console.log(formatTable(loadRows(results, pingBytes)))
  console.log(`(B/s: bytes a node sends per second on average, = what it receives; idle: table maintenance + re-announcing ${PRODUCERS_PER_NODE} records; workload adds new producers, pulls, copies and 1 media-link ping per upstream per ${MEDIA_PING_INTERVAL_MS / second} s. Connections assumed kept; "if each msg dials" adds ${CONNECTION_SETUP_BYTES} B per message)`)
  heading('cost of one operation (mean, all nodes involved together)')
  console.log(formatTable(costRows(results)))
  heading(`growth N = 100 → 10 000, K = ${BUCKET_SIZES[0]}: within c·log2(N)?`)
  console.log(formatTable(growthRows(results, pingBytes), 2))
  const cpu = results.reduce((sum, r) => sum + r.cpuSeconds, 0)
  console.log(`\n(${results.length} swarms, ${cpu.toFixed(1)} s of CPU in ${Math.min(os.availableParallelism(), tasks.length)} processes: ${results.map((r) => `N ${r.nodes} K ${r.k} ${r.cpuSeconds.toFixed(1)} s`).join(', ')}; ${wallSeconds.toFixed(1)} s wall)`)
}

export const controlPlaneSim: Benchmark = {
  name: 'control-plane-sim',
  title: 'simulated control plane at N = 50 … 10 000: lookup hops, messages per pull, records and bytes per node, home fast path vs plain kad-dht',
  run
}
