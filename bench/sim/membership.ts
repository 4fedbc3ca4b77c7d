// How nodes join and keep their routing tables, as kad-dht v16 does it (query-self.js,
// routing-table/refresh.js), with the node's settings (src/p2p/host.ts: server mode,
// initialQuerySelfInterval 0, other intervals kad-dht's defaults):
// - join: connect to one existing node (both routing tables offered the other), then the
//   self-query, then the routing-table refresh that kad-dht starts at once;
// - self-query (every QUERY_SELF_INTERVAL): getClosestPeers(own id), of which kad-dht takes
//   its first K *events* (a request sent is one): with K peers in the table the query is
//   over once its first K requests are out;
// - refresh (every TABLE_REFRESH_INTERVAL): one full getClosestPeers per common prefix
//   length 0…m toward a random id sharing exactly that many leading bits with the node,
//   m being the longest run of zero *bytes* in XOR(node, peer) over the table's peers.
import { ID_WORDS } from './kad-ids.js'
import { runQuery } from './kad-query.js'
import type { KadKey } from './kad-ids.js'
import type { Prng } from './prng.js'
import type { SwarmModel } from './swarm-model.js'

export interface MembershipInit {
  /** kad-dht's query concurrency and disjoint paths (v16 defaults: 10 and 10). */
  alpha: number
  disjointPaths: number
  /** kad-dht's QuerySelf count (K = 20). */
  selfQueryEventLimit: number
  /** kad-dht's refresh does not go beyond this common prefix length (15). */
  maxRefreshCommonPrefix: number
}

export class Membership {
  constructor (private readonly model: SwarmModel, private readonly prng: Prng, private readonly init: MembershipInit) {}

  /** A new node joins through a random existing one. */
  join (): number {
    const node = this.model.addNode()
    if (node === 0) return node
    this.model.meet(node, this.prng.int(node))
    this.selfQuery(node)
    this.refresh(node)
    return node
  }

  selfQuery (node: number): void {
    if (this.model.tables[node]!.size === 0) return
    runQuery(this.model, this.prng, node, this.model.ids.key(node), -1, {
      type: 'FIND_NODE',
      alpha: this.init.alpha,
      disjointPaths: this.init.disjointPaths,
      stopOnProvider: false,
      eventLimit: this.init.selfQueryEventLimit
    })
  }

  refresh (node: number): void {
    const table = this.model.tables[node]!
    if (table.size === 0) return
    const deepest = Math.min(table.maxCommonPrefixBytes(), this.init.maxRefreshCommonPrefix)
    for (let cpl = 0; cpl <= deepest; cpl++) {
      runQuery(this.model, this.prng, node, this.keySharingPrefix(node, cpl), -1, {
        type: 'FIND_NODE',
        alpha: this.init.alpha,
        disjointPaths: this.init.disjointPaths,
        stopOnProvider: false,
        eventLimit: Infinity
      })
    }
  }

  /**
   * Stands for hours of traffic toward random keys, which offer every node peers of every
   * part of the key space: the node asks its closest known peer, once per leaf-sized
   * region (2^prefixLength of them), for the peers closest to a random key there.
   */
  probeEveryRegion (node: number): void {
    const bits = this.model.routingTableInit.prefixLength
    for (let region = 0; region < 1 << bits; region++) {
      const key = this.randomKey()
      key[0] = ((region << (32 - bits)) | (key[0]! >>> bits)) >>> 0
      const [closest] = this.model.tables[node]!.closest(key, 1)
      if (closest === undefined) return
      this.model.learnFromAnswer(node, closest, this.model.request(node, closest, 'FIND_NODE', -1, key))
    }
  }

  /** kad-dht's _makePeerId(): the node's first `cpl` bits, the next one flipped, the rest random. */
  private keySharingPrefix (node: number, cpl: number): KadKey {
    const key = this.randomKey()
    const own = this.model.ids.key(node)[0]!
    const keep = cpl === 0 ? 0 : (0xffffffff << (32 - cpl)) >>> 0
    const flip = (0x80000000 >>> cpl) >>> 0
    key[0] = ((own & keep) | ((own ^ flip) & flip) | (key[0]! & ~keep & ~flip)) >>> 0
    return key
  }

  private randomKey (): KadKey {
    const key = new Uint32Array(ID_WORDS)
    for (let i = 0; i < ID_WORDS; i++) key[i] = this.prng.nextUint32()
    return key
  }
}
