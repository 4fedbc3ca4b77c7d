// One simulated swarm (N nodes, bucket size K): built once, then measured with each
// directory design from the same built state. Returns plain numbers (it runs in a child
// process and its result crosses IPC).
import { ClosestNodes } from './closest-nodes.js'
import { HomeDirectory } from './home-fast-path.js'
import { producerKadId } from './kad-ids.js'
import { Membership } from './membership.js'
import { PlainKad } from './plain-kad.js'
import { Prng } from './prng.js'
import { censusPopulation, dhtCensus, homeCensus } from './record-census.js'
import { SwarmModel } from './swarm-model.js'
import { NodeWire, WireSizes } from './wire-sizes.js'
import type { DirectoryDesign, FoundBy, LookupOutcome } from './directory-design.js'
import type { OperationCost } from './swarm-model.js'
import type { Population } from './record-census.js'
import type { NodeWireInit, WireInit } from './wire-sizes.js'

/** Everything the benchmark's constants say; see bench/control-plane-sim.ts for each. */
export interface SimParameters {
  seed: number
  homes: number
  lookupHomes: number
  locateWaitMs: number
  maxConnections: number
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
  /** Home records' validity. */
  providerValidityMs: number
  /** DHT records' validity (originals; and every record of plain kad-dht). */
  dhtRecordValidityMs: number
  reprovideIntervalMs: number
  reprovideThresholdMs: number
  homeReannounceIntervalMs: number
  homeSweepIntervalMs: number
  censusRateWindowMs: number
  pullSamples: number
  maintenanceSamples: number
  wire: WireInit
  nodeWire: NodeWireInit
}

export type DesignKind = 'homes' | 'kad'

export interface DesignResult {
  design: string
  kind: DesignKind
  /** Cold pulls of new producers (only the origin has announced). */
  fresh: PullStats
  /** Pulls of producers whose copies have announced too. */
  old: PullStats
  /** Per pull (fresh): lookup messages + the copy's announcement messages. */
  messagesPerPull: number[]
  /** Per pull (fresh): lookup + the copy's announcement, bytes incl. pings. */
  bytesPerPull: number[]
  /** One first announcement (homes: to the homes, closer round included; kad: provide()). */
  announce: MeanCost
  /** Homes: an original's DHT record (provide()), first or repeated. */
  provide: MeanCost | null
  /** Homes: one withdrawal. */
  withdraw: MeanCost | null
  /** One cold pull's lookup, on average. */
  lookup: MeanCost
  /** Peers that entered a routing table, per sampled operation. */
  tableAddsPerOperation: number
  /**
   * Share of the nodes an origin's announcement reached that are among the K nodes truly
   * closest to the key: where a converged lookup ends.
   */
  holdersAmongTrueClosest: number
  /** Records held at the census: home records (homes designs), DHT records. */
  homeRecordsPerNode: number[]
  dhtRecordsPerNode: number[]
  /** Per node per second. */
  rates: {
    /** First announcements (new producers and copies), originals alone, closes (withdrawals). */
    announces: number
    originals: number
    withdrawals: number
    /** DHT re-announcements (kad: every record; homes: originals). */
    dhtReannounces: number
    /** Home re-announcements: messages and bytes, all producers and originals alone. */
    homeReannounceMessages: number
    homeReannounceBytes: number
    idleHomeReannounceMessages: number
    idleHomeReannounceBytes: number
    /** Distinct homes (other than itself) of a node's announced producers, all and originals alone. */
    distinctHomes: number
    idleDistinctHomes: number
    /** Bytes of one announcement of one producer and its answer. */
    oneRecordBytes: number
  }
}

/** An operation's mean cost: messages (requests and ADD_PROVIDERs), aborted requests, pings, bytes of all, dials. */
export interface MeanCost {
  messages: number
  aborted: number
  pings: number
  bytes: number
  dials: number
}

export interface PullStats {
  count: number
  found: number
  /** Found how: own records, first round, second round, DHT. */
  by: Record<FoundBy, number>
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
  return {
    messages: mean(costs.map(messages)),
    aborted: mean(costs.map((c) => c.aborted)),
    pings: mean(costs.map((c) => c.pings)),
    bytes: mean(costs.map((c) => c.bytes)),
    dials: mean(costs.map((c) => c.dials))
  }
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
    maxConnections: params.maxConnections,
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
  const population = censusPopulation(new Prng(seed + 4), {
    nodes,
    producersPerNode: params.producersPerNode,
    producerLifetimeMs: params.producerLifetimeMs,
    pullsPerProducer: params.pullsPerProducer,
    copyAnnounceDelayMs: params.copyAnnounceDelayMs,
    rateWindowMs: params.censusRateWindowMs,
    recordLifetimeMs: Math.max(params.dhtRecordValidityMs + params.reprovideIntervalMs, params.providerValidityMs + params.homeSweepIntervalMs),
    producerIdPrefix: `census-${nodes}-${k}-`
  })
  const designs: DesignResult[] = []
  for (const which of ['closer', 'homes', 'kad'] as const) {
    restore()
    const prng = new Prng(seed + 3)
    const dht = { alpha: params.kadAlpha, disjointPaths: params.kadDisjointPaths }
    const design: DirectoryDesign = which === 'kad'
      ? new PlainKad(model, prng, dht)
      : new HomeDirectory(model, prng, {
        homes: params.homes,
        lookupHomes: params.lookupHomes,
        closerRound: which === 'closer',
        locateWaitMs: params.locateWaitMs,
        dht,
        wire: new NodeWire(params.nodeWire)
      })
    designs.push(measureDesign(params, model, prng, design, population, closestNodes))
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

function pullStats (): PullStats {
  return { count: 0, found: 0, by: { local: 0, 'round 1': 0, 'round 2+': 0, dht: 0 }, hops: [] }
}

function measureDesign (params: SimParameters, model: SwarmModel, prng: Prng, design: DirectoryDesign, population: Population, closestNodes: ClosestNodes): DesignResult {
  const nodes = model.size
  const k = model.routingTableInit.kBucketSize
  const fresh = pullStats()
  const old = pullStats()
  const messagesPerPull: number[] = []
  const bytesPerPull: number[] = []
  const announces: OperationCost[] = []
  const provides: OperationCost[] = []
  const withdrawals: OperationCost[] = []
  const lookups: OperationCost[] = []
  let holdersAmongTrueClosest = 0
  let holderCount = 0
  const record = (stats: PullStats, outcome: LookupOutcome): void => {
    stats.count++
    if (outcome.found) {
      stats.found++
      stats.hops.push(outcome.hops)
      stats.by[outcome.by!]++
    }
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
    // The DHT record is in place when a lookup falls back on the DHT (see docs/benchmarks.md).
    if (design.announceOriginal !== undefined) provides.push(operation(() => design.announceOriginal!(origin, keyRef)))
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
    if (design.withdraw !== undefined) for (const node of [origin, ...pullers]) withdrawals.push(operation(() => design.withdraw!(node, keyRef)))
  }

  // The census, with its own random stream: the designs see the same population.
  const censusPrng = new Prng(model.size * 7 + k)
  const dhtTiming = { providerValidityMs: params.dhtRecordValidityMs, reprovideIntervalMs: params.reprovideIntervalMs, reprovideThresholdMs: params.reprovideThresholdMs }
  const trueClosest = (announcer: number, key: Parameters<ClosestNodes['closest']>[0]): number[] => closestNodes.closest(key, k, announcer)
  const homes = design instanceof HomeDirectory ? design : undefined
  const dht = dhtCensus(censusPrng, population, (a) => homes === undefined || a.original, trueClosest, dhtTiming)
  let home: ReturnType<typeof homeCensus> | undefined
  const wire = new NodeWire(params.nodeWire)
  const closer = homes === undefined ? 0 : Math.round(homes.closerNamed.peers / Math.max(1, homes.closerNamed.answers))
  if (homes !== undefined) {
    home = homeCensus(censusPrng, population, (node, key, withExtra) => homes.placement(node, key, withExtra), {
      providerValidityMs: params.providerValidityMs,
      reannounceIntervalMs: params.homeReannounceIntervalMs,
      sweepIntervalMs: params.homeSweepIntervalMs
    }, (ids) => wire.announce(ids, closer))
  }
  const sampled = [...announces, ...provides, ...withdrawals, ...lookups]
  return {
    design: design.name,
    kind: homes === undefined ? 'kad' : 'homes',
    fresh,
    old,
    messagesPerPull,
    bytesPerPull,
    announce: meanCost(announces),
    provide: provides.length > 0 ? meanCost(provides) : null,
    withdraw: withdrawals.length > 0 ? meanCost(withdrawals) : null,
    lookup: meanCost(lookups),
    tableAddsPerOperation: mean(sampled.map((c) => c.tableAdds)),
    holdersAmongTrueClosest: holdersAmongTrueClosest / holderCount,
    homeRecordsPerNode: home?.recordsPerNode ?? [],
    dhtRecordsPerNode: dht.recordsPerNode,
    rates: {
      announces: population.announcesPerNodePerSecond,
      originals: population.originalsPerNodePerSecond,
      withdrawals: homes === undefined ? 0 : population.closesPerNodePerSecond,
      dhtReannounces: dht.reannouncesPerNodePerSecond,
      homeReannounceMessages: home?.reannounce.messages ?? 0,
      homeReannounceBytes: home?.reannounce.bytes ?? 0,
      idleHomeReannounceMessages: home?.reannounceOriginals.messages ?? 0,
      idleHomeReannounceBytes: home?.reannounceOriginals.bytes ?? 0,
      distinctHomes: (home?.reannounce.messages ?? 0) * params.homeReannounceIntervalMs / 1000,
      idleDistinctHomes: (home?.reannounceOriginals.messages ?? 0) * params.homeReannounceIntervalMs / 1000,
      oneRecordBytes: wire.announce(1, closer)
    }
  }
}
