// One simulated swarm (N nodes, bucket size K): built once, then measured with each
// directory design from the same built state. Returns plain numbers (it runs in a child
// process and its result crosses IPC).
import { ClosestNodes } from './closest-nodes.js'
import { HomeFastPath } from './home-fast-path.js'
import { producerKadId } from './kad-ids.js'
import { Membership } from './membership.js'
import { PlainKad } from './plain-kad.js'
import { Prng } from './prng.js'
import { recordCensus } from './record-census.js'
import { SwarmModel } from './swarm-model.js'
import { WireSizes } from './wire-sizes.js'
import type { DirectoryDesign, LookupOutcome } from './directory-design.js'
import type { OperationCost } from './swarm-model.js'
import type { Placement } from './record-census.js'
import type { WireInit } from './wire-sizes.js'

/** Everything the benchmark's constants say; see bench/control-plane-sim.ts for each. */
export interface SimParameters {
  seed: number
  homes: number
  fallbackAlpha: number
  fallbackDisjointPaths: number
  kadAlpha: number
  kadDisjointPaths: number
  prefixLength: number
  oldContactsToPing: number
  lastPingThresholdMs: number
  selfQueryEventLimit: number
  maxRefreshCommonPrefix: number
  joinIntervalMs: number
  settleMs: number
  producersPerNode: number
  producerLifetimeMs: number
  pullsPerProducer: number
  copyAnnounceDelayMs: number
  providerValidityMs: number
  reprovideIntervalMs: number
  reprovideThresholdMs: number
  censusRateWindowMs: number
  pullSamples: number
  maintenanceSamples: number
  wire: WireInit
}

export interface DesignResult {
  design: string
  /** Cold pulls of new producers (only the origin has announced). */
  fresh: PullStats
  /** Pulls of producers whose copies have announced too. */
  old: PullStats
  /** Per pull (fresh): lookup messages + the copy's announcement messages. */
  messagesPerPull: number[]
  /** Per pull (fresh): lookup + the copy's announcement, bytes incl. pings. */
  bytesPerPull: number[]
  /** One announcement (first or repeated), on average. */
  announce: MeanCost
  /** One cold pull's lookup, on average. */
  lookup: MeanCost
  /** Peers that entered a routing table, per sampled operation. */
  tableAddsPerOperation: number
  /**
   * Share of the nodes an origin's announcement reached that are among the K nodes truly
   * closest to the key: where a converged lookup ends.
   */
  holdersAmongTrueClosest: number
  recordsPerNode: number[]
  announcesPerNodePerSecond: number
  reannouncesPerNodePerSecond: number
  upstreamLinksPerNode: number
}

/** An operation's mean cost: kad messages (requests and ADD_PROVIDERs), aborted requests, pings, bytes of all. */
export interface MeanCost {
  messages: number
  aborted: number
  pings: number
  bytes: number
}

export interface PullStats {
  count: number
  found: number
  /** Found without the fallback (first round, or the puller held a record). */
  fastHits: number
  hops: number[]
}

export interface ScenarioResult {
  nodes: number
  k: number
  routingTableSizes: number[]
  /** Per node, one run of each timer. */
  selfQuery: MeanCost
  refresh: MeanCost
  /** getClosestPeers walks per refresh. */
  refreshWalks: number
  designs: DesignResult[]
  cpuSeconds: number
}

function messages (cost: OperationCost): number {
  return cost.requests + cost.oneWay
}

function mean (values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

function meanCost (costs: readonly OperationCost[]): MeanCost {
  return { messages: mean(costs.map(messages)), aborted: mean(costs.map((c) => c.aborted)), pings: mean(costs.map((c) => c.pings)), bytes: mean(costs.map((c) => c.bytes)) }
}

function randomOther (prng: Prng, nodes: number, taken: ReadonlySet<number>): number {
  for (;;) {
    const node = prng.int(nodes)
    if (!taken.has(node)) return node
  }
}

export function runScenario (params: SimParameters, nodes: number, k: number): ScenarioResult {
  const cpuStart = process.cpuUsage()
  const seed = params.seed * 1_000_003 + nodes * 31 + k
  const model = new SwarmModel({
    capacity: nodes,
    routingTable: { kBucketSize: k, prefixLength: params.prefixLength, oldContactsToPing: params.oldContactsToPing, lastPingThresholdMs: params.lastPingThresholdMs },
    wire: new WireSizes(params.wire),
    seed
  })
  const membership = new Membership(model, new Prng(seed + 1), {
    alpha: params.kadAlpha,
    disjointPaths: params.kadDisjointPaths,
    selfQueryEventLimit: params.selfQueryEventLimit,
    maxRefreshCommonPrefix: params.maxRefreshCommonPrefix
  })

  for (let i = 0; i < nodes; i++) {
    membership.join()
    model.now += params.joinIntervalMs
  }
  for (let node = 0; node < nodes; node++) membership.probeEveryRegion(node)
  // Contacts are then older than lastPingThreshold, as in a swarm that has been up a while.
  model.now += params.settleMs
  const restore = model.snapshot()
  const routingTableSizes = model.tables.map((t) => t.size)

  const maintenancePrng = new Prng(seed + 2)
  const selfQueries: OperationCost[] = []
  const refreshes: OperationCost[] = []
  const refreshWalks: number[] = []
  for (let i = 0; i < Math.min(params.maintenanceSamples, nodes); i++) {
    const node = maintenancePrng.int(nodes)
    model.beginOperation()
    membership.selfQuery(node)
    selfQueries.push(model.endOperation())
    refreshWalks.push(Math.min(model.tables[node]!.maxCommonPrefixBytes(), params.maxRefreshCommonPrefix) + 1)
    model.beginOperation()
    membership.refresh(node)
    refreshes.push(model.endOperation())
  }

  const closestNodes = new ClosestNodes(model.ids)
  const designs: DesignResult[] = []
  for (const which of ['fast', 'plain'] as const) {
    restore()
    const prng = new Prng(seed + 3)
    const fast = new HomeFastPath(model, prng, { homes: params.homes, fallbackAlpha: params.fallbackAlpha, fallbackDisjointPaths: params.fallbackDisjointPaths })
    const plain = new PlainKad(model, prng, { alpha: params.kadAlpha, disjointPaths: params.kadDisjointPaths })
    const design: DirectoryDesign = which === 'fast' ? fast : plain
    const placement: Placement = which === 'fast'
      ? (announcer, key) => fast.homesOf(announcer, key)
      : (announcer, key) => closestNodes.closest(key, k, announcer)
    designs.push(measureDesign(params, model, prng, design, placement, closestNodes))
  }
  const cpu = process.cpuUsage(cpuStart)
  return {
    nodes,
    k,
    routingTableSizes,
    selfQuery: meanCost(selfQueries),
    refresh: meanCost(refreshes),
    refreshWalks: mean(refreshWalks),
    designs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  }
}

function measureDesign (params: SimParameters, model: SwarmModel, prng: Prng, design: DirectoryDesign, placement: Placement, closestNodes: ClosestNodes): DesignResult {
  const nodes = model.size
  const k = model.routingTableInit.kBucketSize
  const fresh: PullStats = { count: 0, found: 0, fastHits: 0, hops: [] }
  const old: PullStats = { count: 0, found: 0, fastHits: 0, hops: [] }
  const messagesPerPull: number[] = []
  const bytesPerPull: number[] = []
  const announces: OperationCost[] = []
  const lookups: OperationCost[] = []
  let holdersAmongTrueClosest = 0
  let holderCount = 0
  const record = (stats: PullStats, outcome: LookupOutcome): void => {
    stats.count++
    if (outcome.found) {
      stats.found++
      stats.hops.push(outcome.hops)
    }
    if (outcome.local || outcome.fastHit) stats.fastHits++
  }
  const operation = (run: () => void): OperationCost => {
    model.beginOperation()
    run()
    return model.endOperation()
  }

  const producers = Math.ceil(params.pullSamples / params.pullsPerProducer)
  for (let p = 0; p < producers; p++) {
    model.now += 50
    const origin = prng.int(nodes)
    const keyRef = model.addKey(producerKadId(`sim-${nodes}-${k}-${p}`))
    let holders: readonly number[] = []
    announces.push(operation(() => { holders = design.announce(origin, keyRef) }))
    const truth = new Set(closestNodes.closest(model.keys[keyRef]!, k))
    holdersAmongTrueClosest += holders.filter((h) => truth.has(h)).length
    holderCount += holders.length
    const taken = new Set([origin])
    const pullers: number[] = []
    for (let i = 0; i < Math.min(params.pullsPerProducer, nodes - 1); i++) {
      const puller = randomOther(prng, nodes, taken)
      taken.add(puller)
      pullers.push(puller)
    }
    // The pulls start together, when the producer appears: none sees another's copy yet.
    const pulls = pullers.map((puller) => {
      let outcome: LookupOutcome | undefined
      const cost = operation(() => { outcome = design.lookup(puller, keyRef) })
      record(fresh, outcome!)
      lookups.push(cost)
      return cost
    })
    pullers.forEach((puller, i) => {
      const cost = operation(() => design.announce(puller, keyRef))
      announces.push(cost)
      messagesPerPull.push(messages(pulls[i]!) + messages(cost))
      bytesPerPull.push(pulls[i]!.bytes + cost.bytes)
    })
    if (taken.size < nodes) {
      const late = randomOther(prng, nodes, taken)
      let outcome: LookupOutcome | undefined
      operation(() => { outcome = design.lookup(late, keyRef) })
      record(old, outcome!)
    }
  }

  const census = recordCensus(prng, placement, {
    nodes,
    producersPerNode: params.producersPerNode,
    producerLifetimeMs: params.producerLifetimeMs,
    pullsPerProducer: params.pullsPerProducer,
    copyAnnounceDelayMs: params.copyAnnounceDelayMs,
    providerValidityMs: params.providerValidityMs,
    reprovideIntervalMs: params.reprovideIntervalMs,
    reprovideThresholdMs: params.reprovideThresholdMs,
    rateWindowMs: params.censusRateWindowMs,
    producerIdPrefix: `census-${nodes}-${k}-`
  })
  const sampled = [...announces, ...lookups]
  return {
    design: design.name,
    fresh,
    old,
    messagesPerPull,
    bytesPerPull,
    announce: meanCost(announces),
    lookup: meanCost(lookups),
    tableAddsPerOperation: mean(sampled.map((c) => c.tableAdds)),
    holdersAmongTrueClosest: holdersAmongTrueClosest / holderCount,
    recordsPerNode: census.recordsPerNode,
    announcesPerNodePerSecond: census.announcesPerNodePerSecond,
    reannouncesPerNodePerSecond: census.reannouncesPerNodePerSecond,
    upstreamLinksPerNode: census.upstreamLinksPerNode
  }
}
