// Records over time, for the whole swarm: which node holds how many at one moment (the
// census, at time 0), and how often records are announced, re-announced and withdrawn. No
// message is simulated here; where a record goes comes from a placement (the homes of the
// announcer's table, or the K nodes closest to the key).
//
// Producers appear on every node as a Poisson process (mean `producersPerNode` alive, each
// living an exponential `producerLifetimeMs`); each is pulled by `pullsPerProducer` other
// random nodes when it appears, which announce their copies `copyAnnounceDelayMs` later,
// and all copies close with the producer.
//
// DHT records (kad-dht's reprovider): every announcer makes a pass every
// `reprovideIntervalMs`, at a phase of its own, and re-announces records whose expiry is
// less than `reprovideThresholdMs` away; a holder deletes a record in its first pass after
// the record's validity ran out. No withdrawal.
//
// Home records (src/directory): an announcer sends all its producers to their homes again
// every `reannounceIntervalMs` (one message per home, with the ids of all its producers
// there), and withdraws a producer from its homes when it closes; a home drops a record
// not announced again within the validity at its next sweep. A closer round's extra homes
// get a record once, with the first announcement, and keep it until it expires.
import { producerKadId } from './kad-ids.js'
import type { KadKey } from './kad-ids.js'
import type { Prng } from './prng.js'

export interface PopulationInit {
  nodes: number
  producersPerNode: number
  producerLifetimeMs: number
  pullsPerProducer: number
  copyAnnounceDelayMs: number
  /** Rates are counted over this much time before the census. */
  rateWindowMs: number
  /** How long before the census a record can still have been announced and be alive (validity + the longest pass). */
  recordLifetimeMs: number
  /** Tells the census whose prefix its producer ids carry (they must differ from the sampled ones). */
  producerIdPrefix: string
}

/** A node announcing a producer (its origin, or a node with a copy) from `from` until `until` (ms, census at 0). */
export interface Announcer {
  node: number
  key: KadKey
  from: number
  until: number
  original: boolean
}

export interface Population {
  nodes: number
  rateWindowMs: number
  announcers: Announcer[]
  /** Per node per second: first announcements (new producers and copies), of originals alone, and closes. */
  announcesPerNodePerSecond: number
  originalsPerNodePerSecond: number
  closesPerNodePerSecond: number
}

export function censusPopulation (prng: Prng, init: PopulationInit): Population {
  const horizon = -(init.rateWindowMs + init.recordLifetimeMs)
  const announcers: Announcer[] = []
  let firstAnnounces = 0
  let originals = 0
  let closes = 0
  let producerCount = 0
  const announcer = (a: Announcer): void => {
    announcers.push(a)
    if (a.from >= -init.rateWindowMs && a.from <= 0) {
      firstAnnounces++
      if (a.original) originals++
    }
    if (a.until >= -init.rateWindowMs && a.until <= 0) closes++
  }
  const producer = (origin: number, created: number, closes: number): void => {
    const key = producerKadId(`${init.producerIdPrefix}${producerCount++}`)
    announcer({ node: origin, key, from: created, until: closes, original: true })
    const pullers = new Set<number>()
    while (pullers.size < Math.min(init.pullsPerProducer, init.nodes - 1)) {
      const node = prng.int(init.nodes)
      if (node !== origin) pullers.add(node)
    }
    for (const node of pullers) {
      const copied = created + init.copyAnnounceDelayMs
      if (copied <= closes) announcer({ node, key, from: copied, until: closes, original: false })
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
    nodes: init.nodes,
    rateWindowMs: init.rateWindowMs,
    announcers,
    announcesPerNodePerSecond: perNodePerSecond(firstAnnounces),
    originalsPerNodePerSecond: perNodePerSecond(originals),
    closesPerNodePerSecond: perNodePerSecond(closes)
  }
}

/** Nodes that store `announcer`'s record of `key`. */
export type Placement = (announcer: number, key: KadKey) => readonly number[]

export interface DhtTiming {
  providerValidityMs: number
  reprovideIntervalMs: number
  reprovideThresholdMs: number
}

export interface DhtCensus {
  /** Records each node holds at the census. */
  recordsPerNode: number[]
  /** Per node per second: re-announcements. */
  reannouncesPerNodePerSecond: number
}

/** DHT records of the announcers `which` keeps. */
export function dhtCensus (prng: Prng, population: Population, which: (a: Announcer) => boolean, placement: Placement, timing: DhtTiming): DhtCensus {
  const phase = Array.from({ length: population.nodes }, () => prng.next() * timing.reprovideIntervalMs)
  /** Time of `node`'s first reprovider pass strictly after `t`. */
  const nextPass = (node: number, t: number): number => {
    const p = phase[node]!
    return p + timing.reprovideIntervalMs * (Math.floor((t - p) / timing.reprovideIntervalMs) + 1)
  }
  const records = new Array<number>(population.nodes).fill(0)
  let reannounces = 0
  for (const a of population.announcers) {
    if (!which(a) || a.from > 0) continue
    let last = a.from
    const end = Math.min(a.until, 0)
    for (;;) {
      const next = nextPass(a.node, last + timing.providerValidityMs - timing.reprovideThresholdMs)
      if (next > end) break
      last = next
      if (last >= -population.rateWindowMs) reannounces++
    }
    for (const holder of placement(a.node, a.key)) {
      if (nextPass(holder, last + timing.providerValidityMs) > 0) records[holder]!++
    }
  }
  return { recordsPerNode: records, reannouncesPerNodePerSecond: reannounces / population.nodes / (population.rateWindowMs / 1000) }
}

export interface HomeTiming {
  providerValidityMs: number
  /** Every announced producer to its homes again, this often (validity / 2). */
  reannounceIntervalMs: number
  /** A home drops expired records this often (max(1 s, validity / 4)). */
  sweepIntervalMs: number
}

/** Where an announcement of `announcer` goes: its own homes, and (if `withExtra`) the closer round's extra ones. */
export type HomePlacement = (announcer: number, key: KadKey, withExtra: boolean) => { own: readonly number[], extra: readonly number[] }

export interface HomeCensus {
  recordsPerNode: number[]
  /** Per node per second: re-announcement messages and their bytes, for all announced producers and for originals alone. */
  reannounce: { messages: number, bytes: number }
  reannounceOriginals: { messages: number, bytes: number }
}

/** Home records; `messageBytes(ids)` sizes a re-announcement of `ids` producers and its answer. */
export function homeCensus (prng: Prng, population: Population, placement: HomePlacement, timing: HomeTiming, messageBytes: (ids: number) => number): HomeCensus {
  const sweepPhase = Array.from({ length: population.nodes }, () => prng.next() * timing.sweepIntervalMs)
  /** Time of `node`'s first sweep at or after `t` (a record expiring then is dropped then). */
  const sweepAt = (node: number, t: number): number => {
    const p = sweepPhase[node]!
    return p + timing.sweepIntervalMs * Math.ceil((t - p) / timing.sweepIntervalMs)
  }
  const records = new Array<number>(population.nodes).fill(0)
  /** Per announcer node: home → producer ids it re-announces there (all, originals). */
  const byHome = Array.from({ length: population.nodes }, () => ({ all: new Map<number, number>(), originals: new Map<number, number>() }))
  for (const a of population.announcers) {
    if (a.from > 0) continue
    const alive = a.until > 0
    const recent = a.from > -(timing.providerValidityMs + timing.sweepIntervalMs)
    if (!alive && !recent) continue
    const { own, extra } = placement(a.node, a.key, recent)
    if (alive) {
      for (const home of own) {
        records[home]!++
        if (home === a.node) continue
        const count = byHome[a.node]!
        count.all.set(home, (count.all.get(home) ?? 0) + 1)
        if (a.original) count.originals.set(home, (count.originals.get(home) ?? 0) + 1)
      }
    }
    // An extra home heard once, at the first announcement; a withdrawal does not reach it.
    for (const home of extra) if (sweepAt(home, a.from + timing.providerValidityMs) > 0) records[home]!++
  }
  const rate = (which: 'all' | 'originals'): { messages: number, bytes: number } => {
    let messages = 0
    let bytes = 0
    for (const count of byHome) {
      for (const ids of count[which].values()) {
        messages++
        bytes += messageBytes(ids)
      }
    }
    const perNodePerSecond = population.nodes * timing.reannounceIntervalMs / 1000
    return { messages: messages / perNodePerSecond, bytes: bytes / perNodePerSecond }
  }
  return { recordsPerNode: records, reannounce: rate('all'), reannounceOriginals: rate('originals') }
}
