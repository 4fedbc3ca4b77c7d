// kad-dht alone as a directory (what src/directory ran before the homes; the homes designs
// still put originals in the DHT this way and fall back on its lookup): an announcement is
// kad-dht's provide() (getClosestPeers to the key, then ADD_PROVIDER to the K closest that
// answered), a lookup kad-dht's findProviders() read until the first provider (the node's
// own store first).
import { runQuery } from './kad-query.js'
import type { DirectoryDesign, LookupOutcome } from './directory-design.js'
import type { Prng } from './prng.js'
import type { SwarmModel } from './swarm-model.js'

export interface PlainKadInit {
  alpha: number
  disjointPaths: number
}

export class PlainKad implements DirectoryDesign {
  readonly name = 'plain kad-dht'

  constructor (private readonly model: SwarmModel, private readonly prng: Prng, private readonly init: PlainKadInit) {}

  announce (node: number, keyRef: number): readonly number[] {
    const { closest } = runQuery(this.model, this.prng, node, this.model.keys[keyRef]!, keyRef, {
      type: 'FIND_NODE',
      alpha: this.init.alpha,
      disjointPaths: this.init.disjointPaths,
      stopOnProvider: false,
      eventLimit: Infinity
    })
    this.model.nextInstant()
    for (const peer of closest) this.model.addProvider(node, peer, keyRef)
    return closest
  }

  lookup (node: number, keyRef: number): LookupOutcome {
    if (this.model.providersAt(node, keyRef).length > 0) return { found: true, hops: 0, by: 'local' }
    const { found, rounds } = runQuery(this.model, this.prng, node, this.model.keys[keyRef]!, keyRef, {
      type: 'GET_PROVIDERS',
      alpha: this.init.alpha,
      disjointPaths: this.init.disjointPaths,
      stopOnProvider: true,
      eventLimit: Infinity
    })
    return found ? { found, hops: rounds, by: 'dht' } : { found, hops: rounds }
  }
}
