// The simulated swarm's control plane: node ids, routing tables, provider-record stores,
// and the messages between nodes with what each side learns from them, as in kad-dht v16:
// - a node that answers teaches the asker itself and every peer its answer names (the
//   network's `peer` events), each offered to the asker's routing table;
// - a new connection teaches both sides each other (the topology listener); connections
//   are assumed to stay open once made, so this happens on a pair's first contact only;
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
  routingTable: RoutingTableInit
  wire: WireSizes
  seed: number
}

/** What one operation cost, all nodes together. */
export interface OperationCost {
  /** Request/answer exchanges (FIND_NODE, GET_PROVIDERS). */
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
}

export interface Answer {
  closer: number[]
  providers: readonly number[]
}

const NO_PROVIDERS: readonly number[] = []

function zeroCost (): OperationCost {
  return { requests: 0, oneWay: 0, aborted: 0, pings: 0, bytes: 0, tableAdds: 0 }
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
  private readonly prng: Prng
  private cost = zeroCost()
  private instantPings = new Set<number>()
  /** The node whose table is adding a peer, for `pinger`. */
  private pingingNode = -1
  private readonly pinger: Pinger = (peer, purpose) => this.ping(this.pingingNode, peer, purpose)

  constructor (private readonly init: SwarmModelInit) {
    this.ids = new KadIdSpace(init.capacity)
    this.met = new Uint8Array(Math.ceil(init.capacity * init.capacity / 8))
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

  /** `from` asks `to` (a connection is made if they never met) and gets its answer. */
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

  /** A connection between a and b: on their first, each side's topology listener offers the other. */
  meet (a: number, b: number): void {
    if (this.markMet(a, b)) {
      this.learn(a, b)
      this.learn(b, a)
    }
  }

  /** Everything but the provider records, to run several designs from one built swarm. */
  snapshot (): () => void {
    const tables = this.tables.map((t) => t.clone())
    const met = this.met.slice()
    const now = this.now
    return () => {
      this.tables = tables.map((t) => t.clone())
      this.met = met.slice()
      this.now = now
      this.records = new Map()
    }
  }

  private ping (node: number, peer: number, purpose: 'new' | 'old'): boolean {
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
