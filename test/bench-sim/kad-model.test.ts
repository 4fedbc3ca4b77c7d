import assert from 'node:assert/strict'
import { sha256 } from 'multiformats/hashes/sha2'
import { producerKadId, KadIdSpace, keyFromBytes, ID_WORDS } from '../../bench/sim/kad-ids.js'
import { HomeDirectory } from '../../bench/sim/home-fast-path.js'
import { Membership } from '../../bench/sim/membership.js'
import { Prng } from '../../bench/sim/prng.js'
import { RoutingTable } from '../../bench/sim/routing-table.js'
import { SwarmModel } from '../../bench/sim/swarm-model.js'
import { NodeWire, WireSizes } from '../../bench/sim/wire-sizes.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import type { KadKey } from '../../bench/sim/kad-ids.js'
import type { Pinger, RoutingTableInit } from '../../bench/sim/routing-table.js'

const minute = 60_000
const wire = new WireSizes({ peerIdBytes: 38, multiaddrBytes: 20, multiaddrsPerPeer: 2, keyBytes: 34, frameOverheadBytes: 30, kadProtocol: '/x/kad/1.0.0', pingProtocol: '/ipfs/ping/1.0.0', pingPayloadBytes: 32 })
const nodeWire = new NodeWire({ peerIdChars: 52, producerIdChars: 36, multiaddrs: ['/ip4/10.0.0.1/tcp/4000'], frameOverheadBytes: 30 })
const kadTable: RoutingTableInit = { kBucketSize: 20, prefixLength: 6, oldContactsToPing: 3, lastPingThresholdMs: 10 * minute }

function homeDirectory (model: SwarmModel, closerRound: boolean): HomeDirectory {
  return new HomeDirectory(model, new Prng(9), { homes: 3, lookupHomes: 6, closerRound, locateWaitMs: 1000, dht: { alpha: 3, disjointPaths: 1 }, wire: nodeWire })
}

/** `n` nodes with empty tables, no connections, and a key; nodes by distance to the key. */
function bareSwarm (n: number, maxConnections = 32): { model: SwarmModel, keyRef: number, byDistance: number[], know: (node: number, peers: number[]) => void } {
  const model = new SwarmModel({ capacity: n, maxConnections, routingTable: kadTable, wire, seed: 5 })
  for (let i = 0; i < n; i++) model.addNode()
  const keyRef = model.addKey(producerKadId('closer-round'))
  const byDistance = [...Array(n).keys()].sort((a, b) => model.ids.compare(a, b, model.keys[keyRef]!))
  // Tables filled directly: no message, no connection.
  const know = (node: number, peers: number[]): void => { for (const peer of peers) model.tables[node]!.add(peer, 0, () => true) }
  return { model, keyRef, byDistance, know }
}

/** An id whose first bits are `bits` (a string of 0s and 1s), then `fill`. */
function idWithPrefix (bits: string, fill = 0): KadKey {
  const key = new Uint32Array(ID_WORDS).fill(fill)
  key[0] = ((parseInt(bits, 2) << (32 - bits.length)) | (fill >>> bits.length)) >>> 0
  return key
}

function xorDistance (a: KadKey, b: KadKey): bigint {
  return [...a].reduce((sum, word, i) => (sum << 32n) | BigInt((word ^ b[i]!) >>> 0), 0n)
}

/** Pings that always answer, recorded. */
function recordingPinger (dead: ReadonlySet<number> = new Set()): { ping: Pinger, pinged: Array<[number, string]> } {
  const pinged: Array<[number, string]> = []
  return { pinged, ping: (peer, purpose) => { pinged.push([peer, purpose]); return !dead.has(peer) } }
}

describe('control-plane simulation: kad model', () => {
  describe('ids and XOR distance', () => {
    it('orders nodes by XOR distance to a key, as BigInt arithmetic does', () => {
      const prng = new Prng(7)
      const ids = new KadIdSpace(64)
      for (let i = 0; i < 64; i++) ids.add(keyFromBytes(prng.bytes(32)))
      const key = keyFromBytes(prng.bytes(32))
      const byModel = Array.from({ length: 64 }, (_, i) => i).sort((a, b) => ids.compare(a, b, key))
      const byBigInt = Array.from({ length: 64 }, (_, i) => i).sort((a, b) => {
        const d = xorDistance(ids.key(a), key) - xorDistance(ids.key(b), key)
        return d < 0n ? -1 : d > 0n ? 1 : 0
      })
      assert.deepEqual(byModel, byBigInt)
    })

    it('decides on later words when the first ones are equal', () => {
      const ids = new KadIdSpace(2)
      const near = ids.add(new Uint32Array(ID_WORDS).fill(5))
      const far = new Uint32Array(ID_WORDS).fill(5)
      far[7] = 6
      ids.add(far)
      const key = new Uint32Array(ID_WORDS)
      assert.equal(ids.compare(near, 1, key), -1)
      assert.equal(ids.compare(1, near, key), 1)
      assert.equal(ids.compare(near, near, key), 0)
    })

    it('derives a producer\'s kad id as kad-dht does: sha256 of the key CID\'s multihash', async () => {
      const cid = await producerKey('p-1')
      const expected = keyFromBytes((await sha256.digest(cid.multihash.bytes)).digest)
      assert.deepEqual(producerKadId('p-1'), expected)
    })

    it('counts common prefix bytes as kad-dht\'s refresh does (bytes, not bits)', () => {
      const ids = new KadIdSpace(3)
      ids.add(idWithPrefix('0000000000000001'))
      ids.add(idWithPrefix('0000000000000000'))
      ids.add(idWithPrefix('1'))
      assert.equal(ids.commonPrefixBytes(0, 1), 1)
      assert.equal(ids.commonPrefixBytes(0, 2), 0)
    })
  })

  describe('routing table (kad-dht v16 k-bucket trie)', () => {
    const init: RoutingTableInit = { kBucketSize: 2, prefixLength: 2, oldContactsToPing: 3, lastPingThresholdMs: 10 * minute }
    /** Owner 0 has prefix 11; peers 1…6 have the prefixes given. */
    function table (...prefixes: string[]): { ids: KadIdSpace, table: RoutingTable } {
      const ids = new KadIdSpace(prefixes.length + 1)
      ids.add(idWithPrefix('11'))
      prefixes.forEach((prefix, i) => ids.add(idWithPrefix(prefix, i + 1)))
      return { ids, table: new RoutingTable(0, ids, init) }
    }

    it('pings a new peer before it goes into a leaf with room', () => {
      const { table: t } = table('00')
      const { ping, pinged } = recordingPinger()
      assert.equal(t.add(1, 0, ping), 'added')
      assert.deepEqual(pinged, [[1, 'new']])
      assert.equal(t.add(1, 0, ping), 'present')
      assert.equal(pinged.length, 1)
    })

    it('does not add a peer that fails its first ping', () => {
      const { table: t } = table('00')
      assert.equal(t.add(1, 0, recordingPinger(new Set([1])).ping), 'dropped')
      assert.equal(t.size, 0)
    })

    it('splits a full leaf on the peers\' own bits, also where the owner is not', () => {
      const { table: t } = table('00', '01', '10', '000')
      const { ping } = recordingPinger()
      t.add(1, 0, ping)
      t.add(2, 0, ping)
      assert.deepEqual(t.leafShape(), [{ prefix: '', size: 2 }])
      t.add(3, 0, ping)
      assert.deepEqual(t.leafShape(), [{ prefix: '0', size: 2 }, { prefix: '1', size: 1 }])
      // The owner's prefix is 11, yet the 0 leaf splits too.
      t.add(4, 0, ping)
      assert.deepEqual(t.leafShape(), [{ prefix: '00', size: 2 }, { prefix: '01', size: 1 }, { prefix: '1', size: 1 }])
    })

    it('keeps a full leaf at prefixLength and pings nobody while its contacts are recent', () => {
      const { table: t } = table('00', '00', '00')
      const { ping, pinged } = recordingPinger()
      t.add(1, 0, ping)
      t.add(2, 1000, ping)
      pinged.length = 0
      assert.equal(t.add(3, 5 * minute, ping), 'dropped')
      assert.deepEqual(pinged, [])
    })

    it('pings the oldest contacts of a full deepest leaf, every time, and keeps them while they answer', () => {
      const { table: t } = table('00', '00', '00', '00')
      const { ping, pinged } = recordingPinger()
      t.add(2, 1000, ping)
      t.add(1, 0, ping)
      pinged.length = 0
      assert.equal(t.add(3, 20 * minute, ping), 'dropped')
      assert.deepEqual(pinged, [[1, 'old'], [2, 'old']])
      // Answering did not make them recent: the next newcomer pings them again.
      assert.equal(t.add(4, 20 * minute, ping), 'dropped')
      assert.equal(pinged.length, 4)
    })

    it('replaces an old contact that fails its ping', () => {
      const { table: t } = table('00', '00', '00')
      t.add(1, 0, recordingPinger().ping)
      t.add(2, 0, recordingPinger().ping)
      assert.equal(t.add(3, 20 * minute, recordingPinger(new Set([1])).ping), 'added')
      assert.deepEqual(t.all().sort(), [2, 3])
    })

    it('answers the closest peers by XOR distance, as a sort of all of them does', () => {
      const prng = new Prng(3)
      const ids = new KadIdSpace(400)
      for (let i = 0; i < 400; i++) ids.add(keyFromBytes(prng.bytes(32)))
      const t = new RoutingTable(0, ids, { kBucketSize: 20, prefixLength: 6, oldContactsToPing: 3, lastPingThresholdMs: 10 * minute })
      for (let i = 1; i < 400; i++) t.add(i, 0, () => true)
      for (let round = 0; round < 20; round++) {
        const key = keyFromBytes(prng.bytes(32))
        const expected = t.all().sort((a, b) => ids.compare(a, b, key)).slice(0, 20)
        assert.deepEqual(t.closest(key, 20), expected)
      }
    })
  })

  describe('connections', () => {
    it('keeps each node\'s most recently used connections, closes the oldest at both ends, and counts dials', () => {
      const { model } = bareSwarm(5, 2)
      model.beginOperation()
      model.meet(0, 1)
      model.meet(0, 2)
      model.meet(0, 1)
      model.meet(0, 3)
      assert.deepEqual([...model.connectedPeers(0)].sort(), [1, 3])
      assert.deepEqual([...model.connectedPeers(2)], [])
      assert.equal(model.endOperation().dials, 3)
    })
  })

  describe('homes', () => {
    it('counts connected peers among the homes', () => {
      const { model, keyRef, byDistance: [c0, c1, c2, c3, far], know } = bareSwarm(6)
      know(far!, [c1!, c2!, c3!])
      const homes = homeDirectory(model, false)
      assert.deepEqual(homes.homesOf(far!, model.keys[keyRef]!, 3), [c1, c2, c3])
      model.meet(far!, c0!)
      assert.deepEqual(homes.homesOf(far!, model.keys[keyRef]!, 3), [c0, c1, c2])
    })

    it('the closer round takes the record to a home the announcer does not know, and lookups to it', () => {
      for (const closerRound of [true, false]) {
        const { model, keyRef, byDistance, know } = bareSwarm(8)
        const [c0, c1, c2, c3, , c5, c6, c7] = byDistance as [number, number, number, number, number, number, number, number]
        for (const node of byDistance) know(node, byDistance)
        // The announcer c7 does not know c0, the closest node; c1 (one of its homes) does.
        model.tables[c7] = new RoutingTable(c7, model.ids, kadTable)
        know(c7, byDistance.filter((n) => n !== c0))
        const directory = homeDirectory(model, closerRound)
        model.beginOperation()
        const holders = directory.announce(c7, keyRef)
        const cost = model.endOperation()
        assert.deepEqual(holders, closerRound ? [c1, c2, c3, c0] : [c1, c2, c3])
        // Every home was dialled: each gets the record again from the identify hand-off.
        assert.equal(cost.requests, 2 * (closerRound ? 4 : 3))
        // A node that knows only c0 finds the record in round 1, with the closer round.
        const onlyC0 = byDistance[4]!
        model.tables[onlyC0] = new RoutingTable(onlyC0, model.ids, kadTable)
        know(onlyC0, [c0])
        assert.deepEqual(directory.lookup(onlyC0, keyRef), closerRound ? { found: true, hops: 1, by: 'round 1' } : { found: false, hops: 2 })
        // A node that knows only c5 (no record) is told of c0, c1, c2 and asks them: round 2.
        model.tables[c6] = new RoutingTable(c6, model.ids, kadTable)
        know(c6, [c5])
        if (closerRound) assert.deepEqual(directory.lookup(c6, keyRef), { found: true, hops: 2, by: 'round 2+' })
      }
    })

    it('sizes the node\'s messages with its encoder: a closer answer grows with the peers named', () => {
      assert.ok(nodeWire.announce(1, 2) > nodeWire.announce(1, 0))
      assert.ok(nodeWire.announce(2, 2) < nodeWire.announce(1, 2) + 100)
      assert.ok(nodeWire.locate(1, 0, 1000) < nodeWire.locate(0, 3, 1000))
    })
  })

  describe('a small swarm', () => {
    it('knows every node after the joins, and the homes answer a new record in one round', () => {
      const model = new SwarmModel({ capacity: 30, maxConnections: 32, routingTable: kadTable, wire, seed: 1 })
      const prng = new Prng(2)
      const membership = new Membership(model, prng, { alpha: 3, disjointPaths: 1, selfQueryEventLimit: 20, maxRefreshCommonPrefix: 15 })
      for (let i = 0; i < 30; i++) membership.join()
      for (let i = 0; i < 30; i++) membership.probeEveryRegion(i)
      assert.ok(model.tables.every((t) => t.size === 29))
      const directory = homeDirectory(model, true)
      const keyRef = model.addKey(producerKadId('p'))
      const homes = directory.announce(0, keyRef)
      // Every view is the whole swarm: the homes name no one closer, no second round.
      assert.equal(homes.length, 3)
      const asker = [...Array(30).keys()].find((n) => n !== 0 && !homes.includes(n))!
      const asked = directory.homesOf(asker, model.keys[keyRef]!, 6).filter((n) => n !== asker).length
      model.beginOperation()
      const outcome = directory.lookup(asker, keyRef)
      const cost = model.endOperation()
      assert.deepEqual(outcome, { found: true, hops: 1, by: 'round 1' })
      assert.equal(cost.requests, asked)
    })
  })
})
