// A node's routing table as @libp2p/kad-dht v16 keeps it (dist/src/routing-table/k-bucket.js):
// a binary trie on the peers' own id bits (not on their distance to this node), whose
// leaves hold at most kBucketSize peers. A full leaf splits, whichever part of the key
// space it covers, until it is prefixLength deep; a full leaf at that depth takes a new
// peer only when one of its numberOfOldContactsToPing oldest contacts, among those not
// pinged for lastPingThreshold, fails a ping. A new peer is pinged before it goes into a
// leaf with room. Nothing refreshes a contact's ping time once it is in the table, so
// after lastPingThreshold every new peer offered to a full leaf costs pings.
import type { KadIdSpace, KadKey } from './kad-ids.js'

export interface RoutingTableInit {
  /** kad-dht's kBucketSize (K). */
  kBucketSize: number
  /** Depth at which leaves stop splitting (kad-dht: 6, so at most 64 leaves). */
  prefixLength: number
  /** Oldest contacts pinged when a full, deepest leaf is offered a new peer (kad-dht: 3). */
  oldContactsToPing: number
  /** A contact pinged (or added) more recently than this is not pinged again, in ms (kad-dht: 10 min). */
  lastPingThresholdMs: number
}

/** What happened to a peer offered to the table. */
export type AddOutcome = 'present' | 'added' | 'dropped'

/**
 * Pings `peer` for the table (a new contact before it is added, or an old one of a full
 * leaf); answers whether it is alive.
 */
export type Pinger = (peer: number, purpose: 'new' | 'old') => boolean

export class RoutingTable {
  private peers: Int32Array
  private pingedAt: Float64Array
  private sizes: Uint8Array
  private depths: Uint8Array
  private prefixes: Int32Array
  private leafCount = 1
  /** Leaf of each prefixLength-bit id prefix. */
  private readonly leafOfPrefix: Uint16Array
  private count = 0

  constructor (readonly owner: number, private readonly ids: KadIdSpace, private readonly init: RoutingTableInit) {
    if (init.prefixLength > 16) throw new RangeError('prefixLength above 16 is not modelled')
    if (init.kBucketSize > 255) throw new RangeError('kBucketSize above 255 is not modelled')
    this.leafOfPrefix = new Uint16Array(1 << init.prefixLength)
    this.peers = new Int32Array(init.kBucketSize)
    this.pingedAt = new Float64Array(init.kBucketSize)
    this.sizes = new Uint8Array(1)
    this.depths = new Uint8Array(1)
    this.prefixes = new Int32Array(1)
  }

  get size (): number {
    return this.count
  }

  /** kad-dht's KBucket._add(), with pings answered by `ping`. */
  add (peer: number, now: number, ping: Pinger): AddOutcome {
    if (peer === this.owner) return 'present'
    const k = this.init.kBucketSize
    for (;;) {
      const leaf = this.leafOf(peer)
      if (this.indexIn(leaf, peer) >= 0) return 'present'
      const size = this.sizes[leaf]!
      if (size === k && this.depths[leaf]! < this.init.prefixLength) {
        this.split(leaf)
        continue
      }
      if (size < k) {
        if (!ping(peer, 'new')) return 'dropped'
        this.peers[leaf * k + size] = peer
        this.pingedAt[leaf * k + size] = now
        this.sizes[leaf] = size + 1
        this.count++
        return 'added'
      }
      const dead: number[] = []
      for (const slot of this.oldContacts(leaf, now)) if (!ping(this.peers[slot]!, 'old')) dead.push(this.peers[slot]!)
      if (dead.length === 0) return 'dropped'
      for (const old of dead) this.removeSlot(leaf, this.indexIn(leaf, old))
    }
  }

  /** Up to `count` peers closest to `key`, closest first, leaving out `exclude`. */
  closest (key: KadKey, count: number, exclude = -1): number[] {
    const out: number[] = []
    const bits = this.init.prefixLength
    const keyPrefix = key[0]! >>> (32 - bits)
    const k = this.init.kBucketSize
    const prefixes = 1 << bits
    // Leaves are aligned blocks of prefixes, and XOR with the key keeps them aligned: in
    // XOR order every leaf is one run, and all of a nearer run is nearer than a farther run.
    for (let i = 0; i < prefixes;) {
      const leaf = this.leafOfPrefix[i ^ keyPrefix]!
      const start = out.length
      for (let s = leaf * k, end = s + this.sizes[leaf]!; s < end; s++) {
        const peer = this.peers[s]!
        if (peer !== exclude) out.push(peer)
      }
      this.sortByDistance(out, start, key)
      if (out.length >= count) {
        out.length = count
        return out
      }
      i = (i | ((1 << (bits - this.depths[leaf]!)) - 1)) + 1
    }
    return out
  }

  /** Every peer in the table. */
  all (): number[] {
    const out: number[] = []
    const k = this.init.kBucketSize
    for (let leaf = 0; leaf < this.leafCount; leaf++) {
      for (let s = leaf * k, end = s + this.sizes[leaf]!; s < end; s++) out.push(this.peers[s]!)
    }
    return out
  }

  /** Leaf depths and sizes, for tests and reports. */
  leafShape (): Array<{ prefix: string, size: number }> {
    const shape = []
    for (let leaf = 0; leaf < this.leafCount; leaf++) {
      const depth = this.depths[leaf]!
      shape.push({ prefix: depth === 0 ? '' : this.prefixes[leaf]!.toString(2).padStart(depth, '0'), size: this.sizes[leaf]! })
    }
    return shape.sort((a, b) => a.prefix < b.prefix ? -1 : 1)
  }

  /**
   * Longest run of zero bytes at the start of XOR(owner, peer) over the table's peers:
   * kad-dht's refresh counts bytes here, not bits, and refreshes that many + 1 prefixes.
   */
  maxCommonPrefixBytes (): number {
    let max = 0
    for (const peer of this.all()) max = Math.max(max, this.ids.commonPrefixBytes(this.owner, peer))
    return max
  }

  clone (): RoutingTable {
    const copy = new RoutingTable(this.owner, this.ids, this.init)
    copy.peers = this.peers.slice()
    copy.pingedAt = this.pingedAt.slice()
    copy.sizes = this.sizes.slice()
    copy.depths = this.depths.slice()
    copy.prefixes = this.prefixes.slice()
    copy.leafOfPrefix.set(this.leafOfPrefix)
    copy.leafCount = this.leafCount
    copy.count = this.count
    return copy
  }

  private leafOf (peer: number): number {
    return this.leafOfPrefix[this.ids.prefix(peer, this.init.prefixLength)]!
  }

  private indexIn (leaf: number, peer: number): number {
    const k = this.init.kBucketSize
    for (let s = leaf * k, end = s + this.sizes[leaf]!; s < end; s++) if (this.peers[s] === peer) return s - leaf * k
    return -1
  }

  /** Slots of the contacts to ping, oldest ping first (ties in table order, as kad-dht's stable sort). */
  private oldContacts (leaf: number, now: number): number[] {
    const k = this.init.kBucketSize
    const slots: number[] = []
    const limit = this.init.oldContactsToPing
    for (let s = leaf * k, end = s + this.sizes[leaf]!; s < end; s++) {
      const pinged = this.pingedAt[s]!
      if (pinged > now - this.init.lastPingThresholdMs) continue
      // Keeps the `limit` oldest so far, in order: a full leaf is scanned on every offer.
      let at = slots.length
      while (at > 0 && this.pingedAt[slots[at - 1]!]! > pinged) at--
      if (at < limit) {
        slots.splice(at, 0, s)
        if (slots.length > limit) slots.length = limit
      }
    }
    return slots
  }

  private removeSlot (leaf: number, index: number): void {
    const k = this.init.kBucketSize
    const base = leaf * k
    const size = this.sizes[leaf]!
    this.peers.copyWithin(base + index, base + index + 1, base + size)
    this.pingedAt.copyWithin(base + index, base + index + 1, base + size)
    this.sizes[leaf] = size - 1
    this.count--
  }

  private split (leaf: number): void {
    const k = this.init.kBucketSize
    if (this.leafCount === this.sizes.length) this.growLeaves()
    const right = this.leafCount++
    const depth = this.depths[leaf]!
    const prefix = this.prefixes[leaf]!
    const base = leaf * k
    const size = this.sizes[leaf]!
    const keptPeers: number[] = []
    const keptPings: number[] = []
    let moved = 0
    for (let s = base; s < base + size; s++) {
      const peer = this.peers[s]!
      if (this.ids.bit(peer, depth) === 0) {
        keptPeers.push(peer)
        keptPings.push(this.pingedAt[s]!)
      } else {
        this.peers[right * k + moved] = peer
        this.pingedAt[right * k + moved] = this.pingedAt[s]!
        moved++
      }
    }
    this.peers.set(keptPeers, base)
    this.pingedAt.set(keptPings, base)
    this.sizes[leaf] = keptPeers.length
    this.sizes[right] = moved
    this.depths[leaf] = depth + 1
    this.depths[right] = depth + 1
    this.prefixes[leaf] = prefix * 2
    this.prefixes[right] = prefix * 2 + 1
    const span = 1 << (this.init.prefixLength - depth)
    const first = prefix * span
    this.leafOfPrefix.fill(right, first + span / 2, first + span)
  }

  private growLeaves (): void {
    const k = this.init.kBucketSize
    const capacity = Math.min(this.sizes.length * 2, 1 << this.init.prefixLength)
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(capacity * per)
      next.set(old)
      return next
    }
    this.peers = grow(this.peers, (n) => new Int32Array(n), k)
    this.pingedAt = grow(this.pingedAt, (n) => new Float64Array(n), k)
    this.sizes = grow(this.sizes, (n) => new Uint8Array(n), 1)
    this.depths = grow(this.depths, (n) => new Uint8Array(n), 1)
    this.prefixes = grow(this.prefixes, (n) => new Int32Array(n), 1)
  }

  /** Insertion sort of out[start..] by distance to key (a leaf holds at most K peers). */
  private sortByDistance (out: number[], start: number, key: KadKey): void {
    for (let i = start + 1; i < out.length; i++) {
      const peer = out[i]!
      let j = i - 1
      while (j >= start && this.ids.compare(out[j]!, peer, key) > 0) {
        out[j + 1] = out[j]!
        j--
      }
      out[j + 1] = peer
    }
  }
}
