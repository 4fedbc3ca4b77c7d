import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { HOMES, LOOKUP_HOMES, producerKey, roomDirectoryId } from '../../src/directory/producer-directory.js'
import { RECORD_PEER_TAG } from '../../src/p2p/peer-tags.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { connectAll, startChain, stopAll } from '../harness/swarm.js'
import { sleep, waitFor } from '../harness/wait.js'
import type { ProducerDirectory } from '../../src/directory/producer-directory.js'
import type { PeerGate } from '../../src/p2p/peer-gate.js'
import type { SwarmNode } from '../../src/index.js'

/** Short, so that a record outlives its validity within the test. */
const VALIDITY_MS = 2000

// Where the records of a producer go: its HOMES closest nodes; for an original or a room,
// the nodes the announcer is connected to among the LOOKUP_HOMES closest (a requester
// connected to none of the homes often is to one of those: no dial for its lookup); and for
// an original, every node the announcer is connected to (a requester connected to the
// origin needs no lookup), live while the connection is. A copy's go to the connected among
// its HOMES only (RecordKind). Eight nodes, each connected to every other, so that every
// node's view is the whole swarm.
describe('records of a producer', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  const directoryOf = (node: SwarmNode): ProducerDirectory => (node as unknown as { directory: ProducerDirectory }).directory
  const gateOf = (node: SwarmNode): PeerGate => (node as unknown as { gate: PeerGate }).gate

  before(async () => {
    nodes = await startChain(8, { timeouts: { providerValidity: VALIDITY_MS } })
    await connectAll(nodes)
  })

  after(async () => { await stopAll(nodes) })

  /** Nodes by peer id, closest to the producer's key first (the announcer's view: the whole swarm). */
  const byDistance = async (announcer: SwarmNode, producerId: string): Promise<SwarmNode[]> =>
    (await directoryOf(announcer).homesOf(producerId, undefined, nodes.length)).map((peerId) => nodes.find((n) => n.peerId === peerId)!)

  const holds = (node: SwarmNode, producerId: string, provider: SwarmNode): boolean =>
    directoryOf(node).homeRecords.providers(producerId).includes(provider.peerId)

  /** Closes every connection between `a` and `b`; true when none is open right after (none redialled yet). */
  const cut = async (a: SwarmNode, b: SwarmNode): Promise<boolean> => {
    await a.libp2p.hangUp(peerIdFromString(b.peerId))
    return a.libp2p.getConnections(peerIdFromString(b.peerId)).length === 0
  }

  it('the homes are the nodes closest to the key by XOR of their DHT ids, the routing table walked as kad-dht keeps it', async () => {
    const announcer = nodes[0]!
    // The directory walks kad-dht's table (kb.toIterable(), no sorting): a kad-dht without it
    // would leave the table's peers out of the homes, unnoticed while they are connected.
    const table = (announcer.libp2p.services.dht as unknown as { routingTable: { kb?: { toIterable?: unknown } } }).routingTable
    assert.equal(typeof table.kb?.toIterable, 'function', 'kad-dht\'s routing table has kb.toIterable()')
    const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()
    for (let i = 0; i < 20; i++) {
      const producerId = randomUUID()
      const key = sha256((await producerKey(producerId)).multihash.bytes)
      const distance = (node: SwarmNode): Buffer => {
        const id = sha256(peerIdFromString(node.peerId).toMultihash().bytes)
        return Buffer.from(id.map((b, j) => b ^ key[j]!))
      }
      const expected = [...nodes].sort((a, b) => Buffer.compare(distance(a), distance(b))).map((n) => n.peerId)
      assert.deepEqual(await directoryOf(announcer).homesOf(producerId, undefined, nodes.length), expected, `the order of the nodes by distance to ${producerId}`)
    }
  })

  it(`a copy's go to the ${HOMES} closest, a room's to the ${LOOKUP_HOMES} closest, when the announcer is connected to them, an original's to every node connected, and are withdrawn from all`, async () => {
    const announcer = nodes[0]!
    // What each kind reaches, closest first, and where it must not be.
    for (const [kind, reach] of [['copy', HOMES], ['room', LOOKUP_HOMES]] as const) {
      const id = kind === 'room' ? roomDirectoryId(randomUUID()) : randomUUID()
      const order = await byDistance(announcer, id)
      assert.equal(order.length, nodes.length, 'the announcer knows every node')
      await directoryOf(announcer).announce(id, kind)
      const holders = order.slice(0, reach)
      const others = order.slice(reach)
      // Beyond the HOMES some nodes hold a room's record and none a copy's: the rule this test is about.
      assert.ok(order.slice(HOMES, LOOKUP_HOMES).length > 0)
      for (const node of holders) assert.ok(holds(node, id, announcer), `node ${order.indexOf(node) + 1} of ${order.length} by distance has no record of the ${kind}`)
      for (const node of others) assert.ok(!holds(node, id, announcer), `node ${order.indexOf(node) + 1} by distance holds a record of the ${kind}`)
      await directoryOf(announcer).withdraw(id)
      await waitFor(() => holders.every((node) => !holds(node, id, announcer)), { timeoutMs: 5000, what: `the ${kind}'s records withdrawn from every holder` })
    }

    const originalId = randomUUID()
    await directoryOf(announcer).announce(originalId)
    for (const node of nodes) if (node !== announcer) assert.ok(holds(node, originalId, announcer), `node ${nodes.indexOf(node)} (connected to the announcer) has no record of the original`)
    await directoryOf(announcer).withdraw(originalId)
    await waitFor(() => nodes.every((node) => !holds(node, originalId, announcer)), { timeoutMs: 5000, what: 'the original\'s records withdrawn from every node' })
  })

  it('a neighbour record lives past its validity while its provider is connected, and not after', async () => {
    const announcer = nodes[1]!
    const producerId = randomUUID()
    const order = await byDistance(announcer, producerId)
    await directoryOf(announcer).announce(producerId)
    // Neither a home nor among the 6 closest: re-announcements do not reach it.
    const neighbour = order.slice(LOOKUP_HOMES).find((node) => node !== announcer)!
    assert.ok(holds(neighbour, producerId, announcer))
    await sleep(VALIDITY_MS * 1.5)
    assert.ok(holds(neighbour, producerId, announcer), 'the record of a connected provider expired')
    assert.ok(await cut(neighbour, announcer), 'the connection was redialled at once')
    assert.ok(!holds(neighbour, producerId, announcer), 'the record outlived the connection and its validity')
    await directoryOf(announcer).withdraw(producerId)
  })

  it('a neighbour\'s announce and a refresh are stored and answered ok, without the closer nodes a home\'s gets', async () => {
    const [from, to] = nodes as [SwarmNode, SwarmNode]
    const producerId = randomUUID()
    const announce = async (as?: 'neighbour' | 'refresh'): Promise<string> =>
      (await request(from.libp2p, to.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'announce', producerIds: [producerId], withdrawn: [], ...(as === undefined ? {} : { [as]: true }) }, 5000)).type
    assert.equal(await announce(), 'closer')
    assert.equal(await announce('refresh'), 'ok')
    assert.ok(holds(to, producerId, from))
    assert.equal(await announce('neighbour'), 'ok')
    assert.ok(holds(to, producerId, from))
    await request(from.libp2p, to.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'announce', producerIds: [], withdrawn: [producerId], neighbour: true }, 5000)
    assert.ok(!holds(to, producerId, from))
  })

  // A requester connected to no holder asks a node it is connected to, which asks the
  // holders it is connected to: no dial, one hop more.
  it('a node without the record answers a forwarding locate with what the holders it is connected to name', async () => {
    const announcer = nodes[2]!
    const producerId = randomUUID()
    const order = await byDistance(announcer, producerId)
    const [nonHolder, requester] = order.slice(LOOKUP_HOMES).concat(order.slice(HOMES, LOOKUP_HOMES)).filter((node) => node !== announcer)
    // Not connected to the announcer, nor one of the homes it dials: it gets no record. Kept
    // apart until the end: a redial (a bootstrap keeper's, when they are neighbours in the
    // chain) would hand the original's record over, and the plain locate would name it.
    const apart = (ms: number): void => {
      gateOf(announcer).quarantine(nonHolder!.peerId, ms)
      gateOf(nonHolder!).quarantine(announcer.peerId, ms)
    }
    apart(60_000)
    assert.ok(await cut(announcer, nonHolder!), 'the connection was redialled at once')
    await directoryOf(announcer).announce(producerId)
    assert.ok(!holds(nonHolder!, producerId, announcer), 'the node asked holds no record')
    const locate = async (forward: boolean): Promise<{ providers: string[], closer: string[] }> => {
      const answer = await request(requester!.libp2p, nonHolder!.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'locate', producerId, waitMs: 0, ...(forward ? { forward } : {}) }, 5000)
      if (answer.type !== 'providers') throw new Error(`locate answered ${answer.type}`)
      return { providers: answer.providers.map((p) => p.peerId), closer: (answer.closer ?? []).map((c) => c.peerId) }
    }
    // Without forwarding it names no provider, only closer nodes: the answer below came from the holders.
    const plain = await locate(false)
    assert.deepEqual(plain.providers, [])
    assert.ok(plain.closer.length > 0)
    const forwarded = await locate(true)
    assert.deepEqual(forwarded.providers, [announcer.peerId])
    assert.deepEqual(forwarded.closer, [])
    assert.equal(announcer.libp2p.getConnections(peerIdFromString(nonHolder!.peerId)).length, 0, 'still apart')
    await directoryOf(announcer).withdraw(producerId)
    apart(0)
  })

  // A home hears from each provider every half validity: a connection the trimmer closed
  // would be dialled again then (≈ 8 KB each time), so both sides value it above others.
  it('an original\'s homes and its provider tag each other while records go between them, and not after', async () => {
    const announcer = nodes[4]!
    const producerId = randomUUID()
    const order = await byDistance(announcer, producerId)
    const homes = order.slice(0, HOMES).filter((node) => node !== announcer)
    const others = order.slice(HOMES).filter((node) => node !== announcer)
    const tagged = async (on: SwarmNode, peer: SwarmNode): Promise<boolean> =>
      (await on.libp2p.peerStore.get(peerIdFromString(peer.peerId))).tags.has(RECORD_PEER_TAG)
    const taggedBothWays = async (): Promise<boolean[]> => await Promise.all(homes.map(async (home) => await tagged(announcer, home) && await tagged(home, announcer)))
    await directoryOf(announcer).announce(producerId)
    await waitFor(async () => (await taggedBothWays()).every(Boolean), { timeoutMs: 2000, what: 'the homes and the provider tagged both ways' })
    // Past the first announcement's validity: the re-announcements keep them, and only them.
    await sleep(VALIDITY_MS * 2)
    assert.deepEqual(await taggedBothWays(), homes.map(() => true), 'a home and the provider tagged both ways')
    for (const other of others) assert.ok(!await tagged(announcer, other), `node ${nodes.indexOf(other)}, not a home, is tagged`)
    await directoryOf(announcer).withdraw(producerId)
    await waitFor(async () => (await Promise.all(homes.map(async (home) => await tagged(announcer, home) || await tagged(home, announcer)))).every((t) => !t),
      { timeoutMs: VALIDITY_MS * 3, what: 'the tags gone on both sides once no records go between them' })
  })

  it('re-announcements keep the homes\' records alive without asking them for closer nodes', async () => {
    const announcer = nodes[3]!
    const producerId = randomUUID()
    const homes = (await byDistance(announcer, producerId)).slice(0, HOMES).filter((node) => node !== announcer)
    await directoryOf(announcer).announce(producerId)
    let closerAsked = 0
    const restore = homes.map((home) => {
      const directory = directoryOf(home)
      const closerPeers = directory.closerPeers.bind(directory)
      directory.closerPeers = async (...args) => { closerAsked++; return await closerPeers(...args) }
      return () => { directory.closerPeers = closerPeers }
    })
    try {
      await sleep(VALIDITY_MS * 2)
      // Past the validity of the first announcement: the re-announcements arrived.
      for (const home of homes) assert.ok(holds(home, producerId, announcer), `home ${nodes.indexOf(home)} lost the record`)
      assert.equal(closerAsked, 0, 'homes computed closer nodes for re-announcements')
    } finally {
      for (const undo of restore) undo()
      await directoryOf(announcer).withdraw(producerId)
    }
  })
})
