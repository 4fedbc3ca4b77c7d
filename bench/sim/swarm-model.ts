// The simulated swarm's control plane: node ids, routing tables, provider-record stores,
// and the messages between nodes with what each side learns from them, as in kad-dht v16:
// - a node that answers teaches the asker itself and every peer its answer names (the
//   network's `peer` events), each offered to the asker's routing table;
// - a new connection teaches both sides each other (the topology listener), on a pair's
//   first contact only (kad-dht offers a reconnected peer again; it is then usually in the
//   table already, and the re-offers are not modelled);
// - connections: each node keeps the `maxConnections` peers it exchanged a message with
//   most recently (libp2p's connection manager prunes past maxConnections; the model
//   closes the least recently used, at both ends); a message between nodes that are not
//   connected dials first (counted, not in the bytes);
// - a routing-table insertion pings as RoutingTable says; pings of one contact that one
//   node starts in the same query round are one ping (kad-dht joins a ping under way).
// Every node stays up: pings are answered, nothing is evicted. Costs are added to the
// operation under way (beginOperation() … endOperation()).
import { Prng } from './prng.js'
import { ID_WORDS, KadIdSpace, peerKadId } from './kad-ids.js'
import { RoutingTable } from './routing-table.js'
import type { KadKey } from './kad-ids.js'
import type { Pinger, RoutingTableInit } from './routing-table.js'
import type { WireSizes } from './wire-sizes.js'

export interface SwarmModelInit {
  capacity: number
  /** Connections a node keeps at most (libp2p's maxConnections as the node sets it). */
  maxConnections: number
  routingTable: RoutingTableInit
  wire: WireSizes
  seed: number
}

/** What one operation cost, all nodes together. */
export interface OperationCost {
  /** Request/answer exchanges (FIND_NODE, GET_PROVIDERS; the node's announce and locate). */
  requests: number
  /** Messages without answer (ADD_PROVIDER). */
  oneWay: number
  /** Requests aborted as they started (a stream opened and reset; not in the message counts). */
  aborted: number
  /** libp2p pings sent for routing tables. */
  pings: number
  /** Everything above on the wire, both directions. */
  bytes: number
  /** Peers that entered a routing table. */
  tableAdds: number
  /** New connections (both ends were not connected): connection set-up, not in `bytes`. */
  dials: number
}

export interface Answer {
  closer: number[]
  providers: readonly number[]
}

const NO_PROVIDERS: readonly number[] = []

function zeroCost (): OperationCost {
  return { requests: 0, oneWay: 0, aborted: 0, pings: 0, bytes: 0, tableAdds: 0, dials: 0 }
}

export class SwarmModel {
  readonly ids: KadIdSpace
  tables: RoutingTable[] = []
  /** Simulated time, ms. */
  now = 0
  readonly keys: KadKey[] = []
  /** Provider records: key → holder → providers. */
  private records = new Map<number, Map<number, number[]>>()
  /** Pairs that have been connected (bit a·capacity + b, a < b). */
  private met: Uint8Array
  /** Each node's connected peers (`slots` per node, the first connectionCounts[node] used) and when each connection was last used. */
  private readonly slots: number
  private connected: Int32Array
  private lastUsed: Float64Array
  private connectionCounts: Uint8Array
  private tick = 0
  private readonly prng: Prng
  private cost = zeroCost()
  private instantPings = new Set<number>()
  /** The node whose table is adding a peer, for `pinger`. */
  private pingingNode = -1
  private readonly pinger: Pinger = (peer, purpose) => this.ping(this.pingingNode, peer, purpose)

  constructor (private readonly init: SwarmModelInit) {
    this.ids = new KadIdSpace(init.capacity)
    this.met = new Uint8Array(Math.ceil(init.capacity * init.capacity / 8))
    if (init.maxConnections > 255) throw new RangeError('maxConnections above 255 is not modelled')
    this.slots = init.maxConnections
    this.connected = new Int32Array(init.capacity * this.slots)
    this.lastUsed = new Float64Array(init.capacity * this.slots)
    this.connectionCounts = new Uint8Array(init.capacity)
    this.prng = new Prng(init.seed)
  }

  get size (): number {
    return this.ids.count
  }

  get routingTableInit (): RoutingTableInit {
    return this.init.routingTable
  }

  /** A node with an Ed25519-like peer id (identity multihash of a 36-byte key) and an empty table. */
  addNode (): number {
    const multihash = new Uint8Array(38)
    multihash.set([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
    multihash.set(this.prng.bytes(32), 6)
    const node = this.ids.add(peerKadId(multihash))
    this.tables.push(new RoutingTable(node, this.ids, this.init.routingTable))
    return node
  }

  addKey (key: KadKey): number {
    if (key.length !== ID_WORDS) throw new TypeError('not a kad id')
    this.keys.push(key)
    return this.keys.length - 1
  }

  beginOperation (): void {
    this.cost = zeroCost()
    this.nextInstant()
  }

  endOperation (): OperationCost {
    const cost = this.cost
    this.cost = zeroCost()
    return cost
  }

  /** A new query round: pings started from now on are not shared with earlier ones. */
  nextInstant (): void {
    this.instantPings.clear()
  }

  /** `from` asks `to` (on their connection, dialled if needed) and gets its answer. */
  request (from: number, to: number, type: 'FIND_NODE' | 'GET_PROVIDERS', keyRef: number, key: KadKey): Answer {
    this.meet(from, to)
    const closer = this.tables[to]!.closest(key, this.init.routingTable.kBucketSize, type === 'FIND_NODE' ? from : -1)
    const providers = type === 'GET_PROVIDERS' ? this.providersAt(to, keyRef) : []
    this.cost.requests++
    this.cost.bytes += this.init.wire.requestAnswer(type, closer.length + providers.length)
    return { closer, providers }
  }

  /** A request aborted as it started. */
  abortRequest (): void {
    this.cost.aborted++
    this.cost.bytes += this.init.wire.abortedRequest()
  }

  /** What `node` learns from `from`'s answer: every peer named in it, then `from`. */
  learnFromAnswer (node: number, from: number, answer: Answer): void {
    for (const peer of answer.closer) this.learn(node, peer)
    for (const peer of answer.providers) this.learn(node, peer)
    this.learn(node, from)
  }

  /**
   * A request of the node's own protocol (announce, locate): `answer` runs at `to` once the
   * request is there, and returns the bytes of request and answer.
   */
  nodeRequest (from: number, to: number, answer: () => number): void {
    this.meet(from, to)
    this.cost.requests++
    this.cost.bytes += answer()
  }

  /** The peers `node` is connected to now. */
  connectedPeers (node: number): Int32Array {
    return this.connected.subarray(node * this.slots, node * this.slots + this.connectionCounts[node]!)
  }

  isConnected (a: number, b: number): boolean {
    return this.slotOf(a, b) >= 0
  }

  connectionCount (node: number): number {
    return this.connectionCounts[node]!
  }

  /** `from` sends `to` a provider record of its own (ADD_PROVIDER); `to` stores it. */
  addProvider (from: number, to: number, keyRef: number): void {
    this.meet(from, to)
    this.cost.oneWay++
    this.cost.bytes += this.init.wire.addProvider()
    this.store(to, keyRef, from)
  }

  store (holder: number, keyRef: number, provider: number): void {
    let holders = this.records.get(keyRef)
    if (holders === undefined) this.records.set(keyRef, holders = new Map())
    const providers = holders.get(holder)
    if (providers === undefined) holders.set(holder, [provider])
    else if (!providers.includes(provider)) providers.push(provider)
  }

  providersAt (holder: number, keyRef: number): readonly number[] {
    return this.records.get(keyRef)?.get(holder) ?? NO_PROVIDERS
  }

  /** Offers `peer` to `node`'s routing table. */
  learn (node: number, peer: number): void {
    const outer = this.pingingNode
    this.pingingNode = node
    if (this.tables[node]!.add(peer, this.now, this.pinger) === 'added') this.cost.tableAdds++
    this.pingingNode = outer
  }

  /**
   * A message between a and b, on their connection (dialled if they are not connected); on
   * their first connection ever, each side's topology listener offers the other.
   */
  meet (a: number, b: number): void {
    this.connect(a, b)
    if (this.markMet(a, b)) {
      this.learn(a, b)
      this.learn(b, a)
    }
  }

  /** Everything but the provider records, to run several designs from one built swarm. */
  snapshot (): () => void {
    const tables = this.tables.map((t) => t.clone())
    const met = this.met.slice()
    const connected = this.connected.slice()
    const lastUsed = this.lastUsed.slice()
    const connectionCounts = this.connectionCounts.slice()
    const now = this.now
    return () => {
      this.tables = tables.map((t) => t.clone())
      this.met = met.slice()
      this.connected = connected.slice()
      this.lastUsed = lastUsed.slice()
      this.connectionCounts = connectionCounts.slice()
      this.now = now
      this.records = new Map()
    }
  }

  /** Uses the connection between a and b, dialling it if there is none; past maxConnections the least recently used goes. */
  private connect (a: number, b: number): void {
    if (a === b) return
    const tick = ++this.tick
    const at = this.slotOf(a, b)
    if (at >= 0) {
      this.lastUsed[at] = tick
      this.lastUsed[this.slotOf(b, a)] = tick
      return
    }
    this.cost.dials++
    this.addSlot(a, b, tick)
    this.addSlot(b, a, tick)
  }

  /** Slot of `peer` among `node`'s connections, or -1. */
  private slotOf (node: number, peer: number): number {
    const base = node * this.slots
    for (let s = base, end = base + this.connectionCounts[node]!; s < end; s++) if (this.connected[s] === peer) return s
    return -1
  }

  private addSlot (node: number, peer: number, tick: number): void {
    const base = node * this.slots
    let count = this.connectionCounts[node]!
    if (count === this.init.maxConnections) {
      let oldest = base
      for (let s = base + 1; s < base + count; s++) if (this.lastUsed[s]! < this.lastUsed[oldest]!) oldest = s
      const gone = this.connected[oldest]!
      this.removeSlot(node, oldest)
      this.removeSlot(gone, this.slotOf(gone, node))
      count--
    }
    this.connected[base + count] = peer
    this.lastUsed[base + count] = tick
    this.connectionCounts[node] = count + 1
  }

  private removeSlot (node: number, slot: number): void {
    const last = node * this.slots + this.connectionCounts[node]! - 1
    this.connected[slot] = this.connected[last]!
    this.lastUsed[slot] = this.lastUsed[last]!
    this.connectionCounts[node]!--
  }

  private ping (node: number, peer: number, purpose: 'new' | 'old'): boolean {
    this.connect(node, peer)
    if (purpose === 'old') {
      const id = node * this.init.capacity + peer
      if (this.instantPings.has(id)) return true
      this.instantPings.add(id)
    } else if (this.markMet(node, peer)) {
      // The ping's connection is new: the pinged node's topology listener offers the pinger.
      this.learn(peer, node)
    }
    this.cost.pings++
    this.cost.bytes += this.init.wire.ping()
    return true
  }

  /** Marks the pair as connected; true if it was not. */
  private markMet (a: number, b: number): boolean {
    const bit = a < b ? a * this.init.capacity + b : b * this.init.capacity + a
    const byte = bit >>> 3
    const mask = 1 << (bit & 7)
    if ((this.met[byte]! & mask) !== 0) return false
    this.met[byte] = this.met[byte]! | mask
    return true
  }
}
