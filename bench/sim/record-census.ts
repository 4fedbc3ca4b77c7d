// Provider records over time, for the whole swarm: which node holds how many at one moment,
// and how often records are announced again. No message is simulated here; where a record
// goes comes from `placement` (the homes, or the K closest nodes).
//
// Producers appear on every node as a Poisson process (mean `producersPerNode` alive, each
// living an exponential `producerLifetimeMs`); each is pulled by `pullsPerProducer` other
// random nodes when it appears, which announce their copies `copyAnnounceDelayMs` later,
// and all copies close with the producer. Every announcer re-announces as kad-dht's
// reprovider does: a pass every `reprovideIntervalMs`, at a phase of its own, re-announces
// records whose expiry is less than `reprovideThresholdMs` away; a holder deletes a record
// in its first pass after the record's validity ran out.
import { producerKadId } from './kad-ids.js'
import type { KadKey } from './kad-ids.js'
import type { Prng } from './prng.js'

export interface CensusInit {
  nodes: number
  producersPerNode: number
  producerLifetimeMs: number
  pullsPerProducer: number
  copyAnnounceDelayMs: number
  providerValidityMs: number
  reprovideIntervalMs: number
  reprovideThresholdMs: number
  /** Re-announcements are counted over this much time before the census. */
  rateWindowMs: number
  /** Tells the census whose prefix its producer ids carry (they must differ from the sampled ones). */
  producerIdPrefix: string
}

export interface CensusResult {
  /** Records each node holds at the census, as a home or one of the K closest. */
  recordsPerNode: number[]
  /** Per node per second: first announcements (new producers and copies). */
  announcesPerNodePerSecond: number
  /** Per node per second: re-announcements. */
  reannouncesPerNodePerSecond: number
  /** Mean number of distinct nodes a node receives copies from (its upstream media links). */
  upstreamLinksPerNode: number
}

/** Nodes that store `announcer`'s record of `key`. */
export type Placement = (announcer: number, key: KadKey) => readonly number[]

export function recordCensus (prng: Prng, placement: Placement, init: CensusInit): CensusResult {
  const phase = Array.from({ length: init.nodes }, () => prng.next() * init.reprovideIntervalMs)
  /** Time of `node`'s first reprovider pass strictly after `t`. */
  const nextPass = (node: number, t: number): number => {
    const p = phase[node]!
    return p + init.reprovideIntervalMs * (Math.floor((t - p) / init.reprovideIntervalMs) + 1)
  }
  // The census is at time 0. Records live at most validity + one pass after their last
  // announcement, so producers gone before `horizon` have left nothing.
  const horizon = -(init.rateWindowMs + init.providerValidityMs + init.reprovideIntervalMs)
  const records = new Array<number>(init.nodes).fill(0)
  const upstreams = Array.from({ length: init.nodes }, () => new Set<number>())
  let firstAnnounces = 0
  let reannounces = 0
  let producerCount = 0

  const announcer = (node: number, key: KadKey, from: number, until: number): void => {
    let last = from
    if (from >= -init.rateWindowMs && from <= 0) firstAnnounces++
    const end = Math.min(until, 0)
    for (;;) {
      const next = nextPass(node, last + init.providerValidityMs - init.reprovideThresholdMs)
      if (next > end) break
      last = next
      if (last >= -init.rateWindowMs) reannounces++
    }
    if (last > 0) return
    for (const holder of placement(node, key)) {
      if (nextPass(holder, last + init.providerValidityMs) > 0) records[holder]!++
    }
  }

  const producer = (origin: number, created: number, closes: number): void => {
    const key = producerKadId(`${init.producerIdPrefix}${producerCount++}`)
    announcer(origin, key, created, closes)
    const pullers = new Set<number>()
    while (pullers.size < Math.min(init.pullsPerProducer, init.nodes - 1)) {
      const node = prng.int(init.nodes)
      if (node !== origin) pullers.add(node)
    }
    for (const node of pullers) {
      const copied = created + init.copyAnnounceDelayMs
      if (copied <= closes) announcer(node, key, copied, closes)
      if (copied <= 0 && closes > 0) upstreams[node]!.add(origin)
    }
  }

  const birthsPerNode = init.producersPerNode / init.producerLifetimeMs * -horizon
  for (let node = 0; node < init.nodes; node++) {
    // Alive at the horizon (the process is stationary: age and rest of life are independent).
    for (let i = prng.poisson(init.producersPerNode); i > 0; i--) {
      producer(node, horizon - prng.exponential(init.producerLifetimeMs), horizon + prng.exponential(init.producerLifetimeMs))
    }
    for (let i = prng.poisson(birthsPerNode); i > 0; i--) {
      const created = horizon + prng.next() * -horizon
      producer(node, created, created + prng.exponential(init.producerLifetimeMs))
    }
  }
  const perNodePerSecond = (count: number): number => count / init.nodes / (init.rateWindowMs / 1000)
  return {
    recordsPerNode: records,
    announcesPerNodePerSecond: perNodePerSecond(firstAnnounces),
    reannouncesPerNodePerSecond: perNodePerSecond(reannounces),
    upstreamLinksPerNode: upstreams.reduce((sum, set) => sum + set.size, 0) / init.nodes
  }
}
