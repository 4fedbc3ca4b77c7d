// Kademlia ids as kad-dht v16 derives them, and XOR-distance ordering. An id is 256 bits,
// kept as 8 big-endian 32-bit words so that a comparison is a few integer operations (it
// is the simulation's innermost loop).
import { createHash } from 'node:crypto'

export const ID_WORDS = 8

/** A point of the key space (a node's kad id or a key's), as 8 big-endian words. */
export type KadKey = Uint32Array

function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

export function keyFromBytes (bytes: Uint8Array): KadKey {
  if (bytes.length !== ID_WORDS * 4) throw new TypeError(`a kad id is ${ID_WORDS * 4} bytes, got ${bytes.length}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const key = new Uint32Array(ID_WORDS)
  for (let i = 0; i < ID_WORDS; i++) key[i] = view.getUint32(i * 4, false)
  return key
}

/** kad-dht's id of a peer: sha256 of its peer id's multihash bytes. */
export function peerKadId (peerIdMultihash: Uint8Array): KadKey {
  return keyFromBytes(sha256(peerIdMultihash))
}

/**
 * kad-dht's id of a producer key: the node's key is the CID of sha256(
 * "mediasoup-swarm/producer/<id>"), and kad-dht hashes that CID's multihash once more.
 */
export function producerKadId (producerId: string): KadKey {
  const digest = sha256(new TextEncoder().encode(`mediasoup-swarm/producer/${producerId}`))
  const multihash = new Uint8Array(2 + digest.length)
  multihash.set([0x12, 0x20])
  multihash.set(digest, 2)
  return peerKadId(multihash)
}

/** The kad ids of the nodes, node i at words [8i, 8i + 8). */
export class KadIdSpace {
  readonly words: Uint32Array
  /** Each id's first word again, packed: most comparisons end there, and it stays in cache. */
  private readonly firstWords: Uint32Array
  count = 0

  constructor (readonly capacity: number) {
    this.words = new Uint32Array(capacity * ID_WORDS)
    this.firstWords = new Uint32Array(capacity)
  }

  add (key: KadKey): number {
    if (this.count === this.capacity) throw new RangeError('the id space is full')
    this.words.set(key, this.count * ID_WORDS)
    this.firstWords[this.count] = key[0]!
    return this.count++
  }

  key (node: number): KadKey {
    return this.words.subarray(node * ID_WORDS, node * ID_WORDS + ID_WORDS)
  }

  /** The first `bits` (≤ 32) bits of a node's id, as an integer. */
  prefix (node: number, bits: number): number {
    return bits === 0 ? 0 : this.firstWords[node]! >>> (32 - bits)
  }

  /** Bit `index` (0 = most significant) of a node's id. */
  bit (node: number, index: number): number {
    return (this.words[node * ID_WORDS + (index >>> 5)]! >>> (31 - (index & 31))) & 1
  }

  /** -1, 0 or 1 as node a is closer to `key` than node b, as close, or farther. */
  compare (a: number, b: number, key: KadKey): number {
    const first = key[0]!
    const fa = (this.firstWords[a]! ^ first) >>> 0
    const fb = (this.firstWords[b]! ^ first) >>> 0
    if (fa !== fb) return fa < fb ? -1 : 1
    const w = this.words
    const oa = a * ID_WORDS
    const ob = b * ID_WORDS
    for (let i = 1; i < ID_WORDS; i++) {
      const da = (w[oa + i]! ^ key[i]!) >>> 0
      const db = (w[ob + i]! ^ key[i]!) >>> 0
      if (da !== db) return da < db ? -1 : 1
    }
    return 0
  }

  /** Zero bytes at the start of XOR(a, b): what kad-dht's refresh calls a common prefix length. */
  commonPrefixBytes (a: number, b: number): number {
    const w = this.words
    for (let i = 0; i < ID_WORDS; i++) {
      const x = (w[a * ID_WORDS + i]! ^ w[b * ID_WORDS + i]!) >>> 0
      if (x !== 0) return i * 4 + (Math.clz32(x) >>> 3)
    }
    return ID_WORDS * 4
  }
}
