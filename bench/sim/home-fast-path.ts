// The directory as src/directory/producer-directory.ts runs it (with the closer round), and
// the same without the closer round:
// - homesOf(key, count): the `count` nodes closest to the key (XOR) among the node itself,
//   its routing table's `count` closest to the key, and the peers it is connected to now;
// - announce: the record to the node's HOMES homes, one `announce` each (the node's own
//   protocol). A home stores it and answers `closer`: the HOMES closest of its own view,
//   less itself and the announcer. With the closer round, the announcer then sends the
//   record to those of the HOMES closest over its homes and all the peers named that it
//   has not sent it to yet: one more round, no further;
// - an original also goes into the DHT: kad-dht's provide() (getClosestPeers, then
//   ADD_PROVIDER to the K closest), in the background 2 s later; copies do not;
// - lookup: the node's own home records (0 hops); then `locate` to the LOOKUP_HOMES of its
//   view at once (round 1): a home with records answers providers, one without answers the
//   HOMES closest of its view, less itself and the asker. With the closer round, if no
//   provider came, those not asked yet of the LOOKUP_HOMES closest over the first ones and
//   all the peers named, at once (round 2), and so on until the closest are all asked
//   (LOOKUP_ROUNDS rounds at most). Then kad-dht's findProviders() over the DHT
//   records: its own store, then a walk (α, disjoint paths as the node sets them), read
//   until a provider;
// - withdrawal (the producer closed): to the homes of the node's view then. A closer
//   round's extra homes are not told, and keep the record until it expires;
// - on every new connection (identify done), each side sends the other the records of its
//   announced producers whose homes (its view, plus that peer) include the other: an
//   announcement that dials its home sends it twice. Here only that case; other
//   connections' hand-offs are estimated in bench/control-plane-sim.ts.
import { LOOKUP_ROUNDS } from '../../src/directory/producer-directory.js'
import { PlainKad } from './plain-kad.js'
import type { DirectoryDesign, LookupOutcome } from './directory-design.js'
import type { KadKey } from './kad-ids.js'
import type { PlainKadInit } from './plain-kad.js'
import type { Prng } from './prng.js'
import type { SwarmModel } from './swarm-model.js'
import type { NodeWire } from './wire-sizes.js'

export interface HomeDirectoryInit {
  /** Homes per record (HOMES). */
  homes: number
  /** Nodes a lookup asks in one round (LOOKUP_HOMES). */
  lookupHomes: number
  /** The announcement's and the lookup's one more round toward the peers the homes named. */
  closerRound: boolean
  /** How long a home without the record holds a `locate` (LOCATE_WAIT_MS; sized only). */
  locateWaitMs: number
  /** The node's kad-dht settings, for originals' DHT records and the lookup's last resort. */
  dht: PlainKadInit
  wire: NodeWire
}

/** Providers a `locate` answer names at most (MAX_CANDIDATES). */
const MAX_PROVIDERS = 16

/** The `count` of `peers` closest to `key`, closest first, each once. */
export function closestOf (model: SwarmModel, key: KadKey, peers: readonly number[], count: number): number[] {
  const unique = [...new Set(peers)]
  unique.sort((a, b) => model.ids.compare(a, b, key))
  return unique.slice(0, count)
}

export class HomeDirectory implements DirectoryDesign {
  readonly name: string
  /** Home records: key → holder → providers. */
  private readonly records = new Map<number, Map<number, number[]>>()
  private readonly dht: PlainKad
  /** Peers named by `closer` answers to announcements, and answers: for the sizes of re-announcements. */
  readonly closerNamed = { answers: 0, peers: 0 }

  constructor (private readonly model: SwarmModel, prng: Prng, private readonly init: HomeDirectoryInit) {
    this.name = init.closerRound ? 'homes + closer round' : 'homes, no closer round'
    this.dht = new PlainKad(model, prng, init.dht)
  }

  /**
   * The `count` nodes closest to `key` among `node`, its table's `count` closest and (unless
   * left out) its connected peers: ProducerDirectory.homesOf().
   */
  homesOf (node: number, key: KadKey, count: number, withConnected = true): number[] {
    const candidates = this.model.tables[node]!.closest(key, count)
    candidates.push(node)
    if (withConnected) for (const peer of this.model.connectedPeers(node)) candidates.push(peer)
    return closestOf(this.model, key, candidates, count)
  }

  /** What `home` names in an answer to `asker`: the HOMES closest of its view, less both. */
  closerPeers (home: number, key: KadKey, asker: number, withConnected = true): number[] {
    return this.homesOf(home, key, this.init.homes, withConnected).filter((peer) => peer !== home && peer !== asker)
  }

  /**
   * The homes an announcement of `node` reaches, computed without messages and without
   * connected peers (the census): its own, and (if asked) the closer round's.
   */
  placement (node: number, key: KadKey, withExtra = true): { own: number[], extra: number[] } {
    const own = this.homesOf(node, key, this.init.homes, false)
    if (!this.init.closerRound || !withExtra) return { own, extra: [] }
    const named = own.filter((home) => home !== node).flatMap((home) => this.closerPeers(home, key, node, false))
    return { own, extra: closestOf(this.model, key, [...own, ...named], this.init.homes).filter((peer) => !own.includes(peer)) }
  }

  homeProviders (holder: number, keyRef: number): readonly number[] {
    return this.records.get(keyRef)?.get(holder) ?? []
  }

  announce (node: number, keyRef: number): readonly number[] {
    const key = this.model.keys[keyRef]!
    const homes = this.homesOf(node, key, this.init.homes)
    const named = homes.flatMap((home) => this.send(node, home, keyRef))
    if (!this.init.closerRound) return homes
    const more = closestOf(this.model, key, [...homes, ...named], this.init.homes).filter((peer) => !homes.includes(peer))
    this.model.nextInstant()
    for (const home of more) this.send(node, home, keyRef)
    return [...homes, ...more]
  }

  announceOriginal (node: number, keyRef: number): void {
    this.dht.announce(node, keyRef)
  }

  withdraw (node: number, keyRef: number): void {
    for (const home of this.homesOf(node, this.model.keys[keyRef]!, this.init.homes)) {
      if (home !== node) this.model.nodeRequest(node, home, () => this.init.wire.announce(1, 0, true))
      const providers = this.records.get(keyRef)?.get(home) ?? []
      const at = providers.indexOf(node)
      if (at >= 0) providers.splice(at, 1)
    }
  }

  lookup (node: number, keyRef: number): LookupOutcome {
    if (this.homeProviders(node, keyRef).some((p) => p !== node)) return { found: true, hops: 0, by: 'local' }
    const key = this.model.keys[keyRef]!
    const asked = new Set([node])
    const named: number[] = []
    let rounds = 0
    /** One round of `locate`s, all at once; true if one named a provider. */
    const ask = (homes: readonly number[]): boolean => {
      const fresh = homes.filter((home) => !asked.has(home))
      if (fresh.length === 0) return false
      this.model.nextInstant()
      rounds++
      let found = false
      for (const home of fresh) {
        asked.add(home)
        this.model.nodeRequest(node, home, () => {
          const providers = this.homeProviders(home, keyRef).filter((p) => p !== node)
          const closer = providers.length > 0 ? [] : this.closerPeers(home, key, node)
          named.push(...closer)
          if (providers.length > 0) found = true
          return this.init.wire.locate(Math.min(providers.length, MAX_PROVIDERS), closer.length, this.init.locateWaitMs)
        })
      }
      return found
    }
    const first = this.homesOf(node, key, this.init.lookupHomes)
    if (ask(first)) return { found: true, hops: rounds, by: 'round 1' }
    // The closer rounds: the closest of all named, those not asked yet, until the closest are all asked.
    for (let round = 1; this.init.closerRound && round < LOOKUP_ROUNDS; round++) {
      const next = closestOf(this.model, key, [...first, ...named], this.init.lookupHomes).filter((peer) => !asked.has(peer))
      if (next.length === 0) break
      if (ask(next)) return { found: true, hops: rounds, by: 'round 2+' }
    }
    const walk = this.dht.lookup(node, keyRef)
    return walk.found ? { found: true, hops: rounds + walk.hops, by: 'dht' } : { found: false, hops: rounds + walk.hops }
  }

  /** `node` sends `home` the record; answers the peers the home named. */
  private send (node: number, home: number, keyRef: number): number[] {
    this.store(home, keyRef, node)
    if (home === node) return []
    let closer: number[] = []
    const dialled = !this.model.isConnected(node, home)
    this.model.nodeRequest(node, home, () => {
      closer = this.closerPeers(home, this.model.keys[keyRef]!, node)
      this.closerNamed.answers++
      this.closerNamed.peers += closer.length
      return this.init.wire.announce(1, closer.length)
    })
    // A new connection: once identify is done, the announcer hands the home the records it
    // is a home of (ProducerDirectory's onPeerIdentified), this one again.
    if (dialled) this.model.nodeRequest(node, home, () => this.init.wire.announce(1, closer.length))
    return closer
  }

  private store (holder: number, keyRef: number, provider: number): void {
    let holders = this.records.get(keyRef)
    if (holders === undefined) this.records.set(keyRef, holders = new Map())
    const providers = holders.get(holder)
    if (providers === undefined) holders.set(holder, [provider])
    else if (!providers.includes(provider)) providers.push(provider)
  }
}
