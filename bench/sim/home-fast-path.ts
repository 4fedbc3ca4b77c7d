// The home fast path: the origin of a record sends it, one ADD_PROVIDER each, to the R
// nodes closest to the key among its routing table and itself (the key's "homes" as it
// sees them); a node with a copy does the same. A lookup asks, in one round, the R nodes
// closest to the key in the asker's own table; if none names a provider it goes on as a
// Kademlia lookup (alpha, disjoint paths as configured) from the peers those homes named
// and the asker's own closest peers, until a provider is named or the K closest answered.
import { runQuery } from './kad-query.js'
import type { DirectoryDesign, LookupOutcome } from './directory-design.js'
import type { KadKey } from './kad-ids.js'
import type { Prng } from './prng.js'
import type { SwarmModel } from './swarm-model.js'

export interface HomeFastPathInit {
  /** Homes per record (R). */
  homes: number
  /** The fallback lookup's concurrency and disjoint paths. */
  fallbackAlpha: number
  fallbackDisjointPaths: number
}

export class HomeFastPath implements DirectoryDesign {
  readonly name = 'home fast path'

  constructor (private readonly model: SwarmModel, private readonly prng: Prng, private readonly init: HomeFastPathInit) {}

  /** The R nodes closest to `key` among `node`'s routing table and `node` itself. */
  homesOf (node: number, key: KadKey): number[] {
    const homes = this.model.tables[node]!.closest(key, this.init.homes)
    const at = homes.findIndex((home) => this.model.ids.compare(node, home, key) < 0)
    if (at >= 0) homes.splice(at, 0, node)
    else homes.push(node)
    return homes.slice(0, this.init.homes)
  }

  announce (node: number, keyRef: number): readonly number[] {
    const homes = this.homesOf(node, this.model.keys[keyRef]!)
    for (const home of homes) {
      if (home === node) this.model.store(node, keyRef, node)
      else this.model.addProvider(node, home, keyRef)
    }
    return homes
  }

  lookup (node: number, keyRef: number): LookupOutcome {
    if (this.model.providersAt(node, keyRef).length > 0) return { found: true, hops: 0, local: true, fastHit: false }
    const key = this.model.keys[keyRef]!
    this.model.nextInstant()
    const asked = []
    let found = false
    for (const home of this.model.tables[node]!.closest(key, this.init.homes)) {
      const answer = this.model.request(node, home, 'GET_PROVIDERS', keyRef, key)
      this.model.learnFromAnswer(node, home, answer)
      asked.push({ peer: home, closer: answer.closer })
      if (answer.providers.length > 0) found = true
    }
    if (found) return { found, hops: 1, local: false, fastHit: true }
    const fallback = runQuery(this.model, this.prng, node, key, keyRef, {
      type: 'GET_PROVIDERS',
      alpha: this.init.fallbackAlpha,
      disjointPaths: this.init.fallbackDisjointPaths,
      stopOnProvider: true,
      eventLimit: Infinity,
      asked
    })
    return { found: fallback.found, hops: 1 + fallback.rounds, local: false, fastHit: false }
  }
}
