// The nodes truly closest to a key, from all ids sorted: what a converged getClosestPeers
// returns. Used to place plain kad-dht's records for the whole population, where running
// one provide walk per record would not fit the time budget.
import type { KadIdSpace, KadKey } from './kad-ids.js'

export class ClosestNodes {
  /** Node indices by id. */
  private readonly sorted: number[]
  private readonly firstWords: Uint32Array

  constructor (private readonly ids: KadIdSpace) {
    this.sorted = Array.from({ length: ids.count }, (_, i) => i)
    const zero = new Uint32Array(ids.key(0).length)
    this.sorted.sort((a, b) => ids.compare(a, b, zero))
    this.firstWords = Uint32Array.from(this.sorted, (node) => ids.key(node)[0]!)
  }

  /** The `count` nodes closest to `key`, closest first, leaving out `exclude`. */
  closest (key: KadKey, count: number, exclude = -1): number[] {
    const wanted = count + (exclude >= 0 ? 1 : 0)
    // Nodes sharing the key's first `bits` bits are closer than all others: find the
    // longest such prefix that still has enough of them.
    let from = 0
    let to = this.sorted.length
    for (let bits = 32; bits > 0; bits--) {
      const low = (key[0]! >>> (32 - bits)) * 2 ** (32 - bits)
      const high = low + 2 ** (32 - bits)
      const start = this.lowerBound(low)
      const end = this.lowerBound(high)
      if (end - start >= wanted) {
        from = start
        to = end
        break
      }
    }
    const candidates = this.sorted.slice(from, to).filter((node) => node !== exclude)
    candidates.sort((a, b) => this.ids.compare(a, b, key))
    return candidates.slice(0, count)
  }

  /** First position whose id's first word is ≥ value. */
  private lowerBound (value: number): number {
    let low = 0
    let high = this.firstWords.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.firstWords[mid]! < value) low = mid + 1
      else high = mid
    }
    return low
  }
}
