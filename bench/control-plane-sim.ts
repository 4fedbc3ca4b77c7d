// The control plane at N = 50 … 10 000 nodes, simulated (no media, no sockets): routing
// tables modelled on @libp2p/kad-dht v16's k-bucket trie, kad-dht's queries, joins,
// self-queries and refreshes with the node's settings, connections bounded by the node's
// maxConnections, home and DHT records with the node's timing. Three directories on the
// same built swarm: the homes as src/directory runs them (records to the 3 homes of the
// announcer's view, one more round to the nodes the homes name; a lookup asks 6, then the
// nodes they name, then kad-dht's findProviders over the DHT records of originals), the
// same without the closer round, and kad-dht alone (provide / findProviders). Per swarm
// size: lookup hops, messages per pull, records per node, control bytes per node per
// second, routing-table sizes. Deterministic for a seed. bench/sim/ holds the model;
// docs/benchmarks.md section 4 describes the method.
import { fork } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { HOMES, LOCATE_WAIT_MS, LOOKUP_HOMES } from '../src/directory/producer-directory.js'
import { DEFAULTS, DEFAULT_TIMEOUTS } from '../src/node/options.js'
import { DHT_K } from '../src/p2p/host.js'
import { formatTable } from '../test/harness/index.js'
import { heading, summary } from './common.js'
import { WireSizes } from './sim/wire-sizes.js'
import type { Benchmark } from './common.js'
import type { ScenarioTask } from './sim/scenario-process.js'
import type { DesignResult, MeanCost, PullStats, ScenarioResult, SimParameters } from './sim/scenario.js'
import type { TableRow } from '../test/harness/index.js'

const second = 1000
const minute = 60 * second

const SEED = 1
const SWARM_SIZES = [50, 100, 1000, 10_000]
/** kad-dht's kBucketSize as the node runs it (src/p2p/host.ts), and the library's default. */
const BUCKET_SIZES = [DHT_K, 20]

// kad-dht v16 as the node configures it (src/p2p/host.ts: alpha 3, one path; the rest defaults).
const KAD_ALPHA = 3
const KAD_DISJOINT_PATHS = 1
const PREFIX_LENGTH = 6
const OLD_CONTACTS_TO_PING = 3
const LAST_PING_THRESHOLD_MS = 10 * minute
/** QuerySelf takes its first K events, K being kad-dht's constant 20 whatever kBucketSize is. */
const SELF_QUERY_EVENT_LIMIT = 20
const MAX_REFRESH_COMMON_PREFIX = 15
const QUERY_SELF_INTERVAL_MS = 5 * minute
const TABLE_REFRESH_INTERVAL_MS = 5 * minute

/** libp2p connections a node keeps at most (the node's default maxConnections). */
const MAX_CONNECTIONS = DEFAULTS.maxConnections
/** PeerMonitor pings every connected peer this often (timeouts.ping). */
const PEER_PING_INTERVAL_MS = DEFAULT_TIMEOUTS.ping

// Records as the node configures them. DHT (timeouts.dhtRecordValidity): src/node/swarm-node.ts
// sets the reprovide interval to validity / 2, src/p2p/host.ts the threshold to validity / 2.
// Homes (timeouts.providerValidity, src/directory): everything announced again every
// validity / 2; a home sweeps expired records every max(1 s, validity / 4).
const PROVIDER_VALIDITY_MS = DEFAULT_TIMEOUTS.providerValidity
const DHT_RECORD_VALIDITY_MS = DEFAULT_TIMEOUTS.dhtRecordValidity
const REPROVIDE_INTERVAL_MS = DHT_RECORD_VALIDITY_MS / 2
const REPROVIDE_THRESHOLD_MS = DHT_RECORD_VALIDITY_MS / 2
const HOME_REANNOUNCE_INTERVAL_MS = PROVIDER_VALIDITY_MS / 2
const HOME_SWEEP_INTERVAL_MS = Math.max(1000, PROVIDER_VALIDITY_MS / 4)

// Building the swarm: one join every JOIN_INTERVAL_MS, then SETTLE_MS before measuring.
const JOIN_INTERVAL_MS = 100
const SETTLE_MS = 20 * minute

// Workload.
const PRODUCERS_PER_NODE = 4
const PRODUCER_LIFETIME_MS = 10 * minute
const PULLS_PER_PRODUCER = 3
/** A node announces a copy this long after it has it (src/node). */
const COPY_ANNOUNCE_DELAY_MS = 500

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
const NODE_WIRE = {
  peerIdChars: 52,
  producerIdChars: 36,
  multiaddrs: ['/ip4/10.20.30.40/tcp/40000', '/ip6/fd00::a14:1e28/tcp/40000'],
  frameOverheadBytes: 12 + 2 + 16
}
/**
 * A new connection: multistream-select of /noise and /yamux (≈ 140), the Noise XX
 * handshake (≈ 420), identify both ways (≈ 1 800). Added per dial in the "with dials" column.
 */
const CONNECTION_SETUP_BYTES = 2400
/** Growth from N = 100 to 10 000 "within c·log2(N)": metric(10 000) / metric(100) ≤ c · log2(10 000) / log2(100). */
const GROWTH_C = 1

const PARAMETERS: SimParameters = {
  seed: SEED,
  homes: HOMES,
  lookupHomes: LOOKUP_HOMES,
  locateWaitMs: LOCATE_WAIT_MS,
  maxConnections: MAX_CONNECTIONS,
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
  dhtRecordValidityMs: DHT_RECORD_VALIDITY_MS,
  reprovideIntervalMs: REPROVIDE_INTERVAL_MS,
  reprovideThresholdMs: REPROVIDE_THRESHOLD_MS,
  homeReannounceIntervalMs: HOME_REANNOUNCE_INTERVAL_MS,
  homeSweepIntervalMs: HOME_SWEEP_INTERVAL_MS,
  censusRateWindowMs: CENSUS_RATE_WINDOW_MS,
  pullSamples: PULL_SAMPLES,
  maintenanceSamples: MAINTENANCE_SAMPLES,
  wire: WIRE,
  nodeWire: NODE_WIRE
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

/** Re-announcement period of a DHT record once it runs on the reprovider's passes. */
function steadyReprovidePeriodMs (): number {
  return REPROVIDE_INTERVAL_MS * (Math.floor((DHT_RECORD_VALIDITY_MS - REPROVIDE_THRESHOLD_MS) / REPROVIDE_INTERVAL_MS) + 1)
}

/** What a node sends per second for one part of its traffic, on average (equal to what it receives). */
interface Part { bytes: number, messages: number, dials: number }

const PART_NAMES = ['table maintenance', 'peer pings', 'home announce/withdraw', 'home re-announce', 'identify hand-offs', 'DHT records', 'lookups'] as const
type PartName = typeof PART_NAMES[number]

interface NodeLoad {
  idle: Part
  workload: Part
  /** The workload by part. */
  parts: Record<PartName, Part>
}

function at (cost: MeanCost, perNodePerSecond: number): Part {
  return { bytes: cost.bytes * perNodePerSecond, messages: (cost.messages + cost.pings) * perNodePerSecond, dials: cost.dials * perNodePerSecond }
}

function sum (parts: readonly Part[]): Part {
  return parts.reduce((a, p) => ({ bytes: a.bytes + p.bytes, messages: a.messages + p.messages, dials: a.dials + p.dials }), { bytes: 0, messages: 0, dials: 0 })
}

function nodeLoad (scenario: ScenarioResult, design: DesignResult, pingBytes: number): NodeLoad {
  const maintenance = sum([at(scenario.selfQuery, second / QUERY_SELF_INTERVAL_MS), at(scenario.refresh, second / TABLE_REFRESH_INTERVAL_MS)])
  // Every connection pinged; a busy node keeps maxConnections (in the model most nodes do
  // nothing between the samples, and their connections thin out as their peers close them).
  const pingsPerSecond = Math.min(MAX_CONNECTIONS, scenario.nodes - 1) * second / PEER_PING_INTERVAL_MS
  const pings: Part = { bytes: pingsPerSecond * pingBytes, messages: pingsPerSecond, dials: 0 }
  const pullsPerSecond = PRODUCERS_PER_NODE / PRODUCER_LIFETIME_MS * second * PULLS_PER_PRODUCER
  const idleReprovides = PRODUCERS_PER_NODE * second / steadyReprovidePeriodMs()
  const lookups = at(design.lookup, pullsPerSecond)
  const r = design.rates
  const none = sum([])
  if (design.kind === 'kad') {
    const records = at(design.announce, r.announces + r.dhtReannounces)
    const parts = { 'table maintenance': maintenance, 'peer pings': pings, 'home announce/withdraw': none, 'home re-announce': none, 'identify hand-offs': none, 'DHT records': records, lookups }
    return { idle: sum([maintenance, pings, at(design.announce, idleReprovides)]), workload: sum(Object.values(parts)), parts }
  }
  // A re-announcement (a minute after the last) or a withdrawal (minutes after the first
  // announcement) finds its home connected about as often as a random peer is
  // (maxConnections of N - 1).
  const dialShare = 1 - Math.min(1, MAX_CONNECTIONS / (scenario.nodes - 1))
  const reannounce = (messages: number, bytes: number): Part => ({ bytes, messages, dials: messages * dialShare })
  const withdrawals = at(design.withdraw!, r.withdrawals)
  withdrawals.dials = design.withdraw!.messages * r.withdrawals * dialShare
  // The sampled first announcements include the hand-off of a home they dialled.
  const announcements = sum([at(design.announce, r.announces), withdrawals])
  const reannouncements = reannounce(r.homeReannounceMessages, r.homeReannounceBytes)
  const dhtRecords = at(design.provide!, r.originals + r.dhtReannounces)
  /**
   * Identify hand-offs: a re-announcement that dialled its home is sent again; and on the
   * other new connections each end hands the other the records it is a home of, the peer
   * being a home of one of the node's producers about as often as a random node is
   * (`homes` of the N - 1). `homeDials`: dials of home messages, whose other end is random.
   */
  const handoffs = (reannounced: Part, otherDials: number, homeDials: number, homes: number): Part => {
    const random = (otherDials * 2 + homeDials) * Math.min(1, homes / (scenario.nodes - 1))
    return { bytes: reannounced.bytes * dialShare + random * r.oneRecordBytes, messages: reannounced.messages * dialShare + random, dials: 0 }
  }
  const parts = {
    'table maintenance': maintenance,
    'peer pings': pings,
    'home announce/withdraw': announcements,
    'home re-announce': reannouncements,
    'identify hand-offs': handoffs(reannouncements, sum([maintenance, dhtRecords, lookups]).dials, announcements.dials + reannouncements.dials, r.distinctHomes),
    'DHT records': dhtRecords,
    lookups
  }
  const idleReannouncements = reannounce(r.idleHomeReannounceMessages, r.idleHomeReannounceBytes)
  const idleDhtRecords = at(design.provide!, idleReprovides)
  const idleHandoffs = handoffs(idleReannouncements, sum([maintenance, idleDhtRecords]).dials, idleReannouncements.dials, r.idleDistinctHomes)
  return { idle: sum([maintenance, pings, idleReannouncements, idleHandoffs, idleDhtRecords]), workload: sum(Object.values(parts)), parts }
}

function percent (part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${(part / whole * 100).toFixed(1)} %`
}

/** Found without the DHT: own records, first or second round. */
function fastHits (stats: PullStats): number {
  return stats.by.local + stats.by['round 1'] + stats.by['round 2+']
}

function lookupRows (results: ScenarioResult[]): TableRow[] {
  return results.flatMap((r) => r.designs.map((d) => {
    const hops = summary(d.fresh.hops)
    const oldHops = summary(d.old.hops)
    const messages = summary(d.messagesPerPull)
    const homes = d.kind === 'homes'
    return {
      N: r.nodes,
      K: r.k,
      design: d.design,
      'own records': percent(d.fresh.by.local, d.fresh.count),
      'round 1': homes ? percent(d.fresh.by['round 1'], d.fresh.count) : '-',
      'round 2+': homes ? percent(d.fresh.by['round 2+'], d.fresh.count) : '-',
      DHT: percent(d.fresh.by.dht, d.fresh.count),
      'fast hits old': homes ? percent(fastHits(d.old), d.old.count) : '-',
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
    const homeRecords = summary(d.homeRecordsPerNode)
    const dhtRecords = summary(d.dhtRecordsPerNode)
    const load = nodeLoad(r, d, pingBytes)
    const homes = d.kind === 'homes'
    return {
      N: r.nodes,
      K: r.k,
      design: d.design,
      'RT p50': table.p50,
      'RT min': Math.min(...r.routingTableSizes),
      'home rec p50': homes ? homeRecords.p50 : '-',
      'home rec max': homes ? homeRecords.max : '-',
      'DHT rec p50': dhtRecords.p50,
      'DHT rec max': dhtRecords.max,
      'B/s idle': Math.round(load.idle.bytes),
      'B/s workload': Math.round(load.workload.bytes),
      'msgs/s': load.workload.messages,
      'dials/s': load.workload.dials,
      'B/s with dials': Math.round(load.workload.bytes + load.workload.dials * CONNECTION_SETUP_BYTES),
      'holders in true K closest': percent(d.holdersAmongTrueClosest, 1)
    }
  }))
}

function breakdownRows (results: ScenarioResult[], pingBytes: number): TableRow[] {
  return results.filter((r) => r.k === BUCKET_SIZES[0]).flatMap((r) => r.designs.map((d) => {
    const load = nodeLoad(r, d, pingBytes)
    return { N: r.nodes, design: d.design, ...Object.fromEntries(PART_NAMES.map((name) => [name, Math.round(load.parts[name].bytes)])), total: Math.round(load.workload.bytes) }
  }))
}

function costRows (results: ScenarioResult[]): TableRow[] {
  const row = (r: ScenarioResult, operation: string, c: MeanCost): TableRow =>
    ({ N: r.nodes, K: r.k, operation, msgs: c.messages, aborted: c.aborted, pings: c.pings, dials: c.dials, KB: c.bytes / 1000 })
  return results.flatMap((r) => [
    row(r, 'self-query (every 5 min)', r.selfQuery),
    row(r, `refresh (every 5 min, ${r.refreshWalks.toFixed(1)} walks)`, r.refresh),
    ...r.designs.flatMap((d) => [
      row(r, `${d.design}: announce`, d.announce),
      ...(d.provide === null ? [] : [row(r, `${d.design}: DHT provide`, d.provide)]),
      ...(d.withdraw === null ? [] : [row(r, `${d.design}: withdraw`, d.withdraw)]),
      row(r, `${d.design}: lookup`, d.lookup)
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
    ['B/s per node, workload', (r, d) => nodeLoad(r, d, pingBytes).workload.bytes]
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

  heading(`cold pulls: ${PULL_SAMPLES} per swarm (${PULLS_PER_PRODUCER} per new producer) + one pull per producer after its copies announced ("old"); HOMES = ${HOMES}, LOOKUP_HOMES = ${LOOKUP_HOMES}, kad-dht α = ${KAD_ALPHA}, ${KAD_DISJOINT_PATHS} path`)
  console.log(formatTable(lookupRows(results)))
  console.log('(fresh pulls found by the puller\'s own records, round 1, round 2, the DHT; fast hits old: found without the DHT; hops: rounds until a provider is named, 0 when the puller holds a record; msgs/pull: the lookup\'s requests + the copy\'s announcement)')
  heading(`load per node: ${PRODUCERS_PER_NODE} live producers per node, ${PRODUCER_LIFETIME_MS / minute} min each, ${PULLS_PER_PRODUCER} pulls each; home records valid ${PROVIDER_VALIDITY_MS / second} s, DHT records ${DHT_RECORD_VALIDITY_MS / second} s; homes re-announced every ${HOME_REANNOUNCE_INTERVAL_MS / second} s, DHT records every ${steadyReprovidePeriodMs() / second} s`)
  console.log(formatTable(loadRows(results, pingBytes)))
  console.log(`(B/s: bytes a node sends per second on average, = what it receives; idle: table maintenance + peer pings + re-announcing its originals (Poisson mean ${PRODUCERS_PER_NODE}); workload adds new producers, copies, withdrawals and pulls. Peer pings: 1 per connection per ${PEER_PING_INTERVAL_MS / second} s, min(${MAX_CONNECTIONS}, N - 1) connections; dials: new connections (at most ${MAX_CONNECTIONS} kept, the least recently used closed), "with dials" adds ${CONNECTION_SETUP_BYTES} B per dial)`)
  heading(`workload bytes per node per second by part, K = ${BUCKET_SIZES[0]}`)
  console.log(formatTable(breakdownRows(results, pingBytes)))
  heading('cost of one operation (mean, all nodes involved together)')
  console.log(formatTable(costRows(results)))
  heading(`growth N = 100 → 10 000, K = ${BUCKET_SIZES[0]}: within c·log2(N)?`)
  console.log(formatTable(growthRows(results, pingBytes), 2))
  const cpu = results.reduce((total, r) => total + r.cpuSeconds, 0)
  console.log(`\n(${results.length} swarms, ${cpu.toFixed(1)} s of CPU in ${Math.min(os.availableParallelism(), tasks.length)} processes: ${results.map((r) => `N ${r.nodes} K ${r.k} ${r.cpuSeconds.toFixed(1)} s`).join(', ')}; ${wallSeconds.toFixed(1)} s wall)`)
}

export const controlPlaneSim: Benchmark = {
  name: 'control-plane-sim',
  title: 'simulated control plane at N = 50 … 10 000: lookup hops, messages per pull, records and bytes per node; homes with and without the closer round, and kad-dht alone',
  run
}
