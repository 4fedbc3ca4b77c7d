import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { HOMES, LOOKUP_HOMES } from '../../src/directory/producer-directory.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { waitFor } from '../harness/wait.js'
import type { ProducerDirectory } from '../../src/directory/producer-directory.js'
import type { SwarmNode } from '../../src/index.js'

// Where the home records of a producer go: its HOMES closest nodes, and the nodes the
// announcer is connected to among the LOOKUP_HOMES closest (a requester connected to none
// of the homes often is to one of those: no dial for its lookup). Eight nodes, each
// connected to every other, so that every node's view is the whole swarm.
describe('home records of a producer', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  const directoryOf = (node: SwarmNode): ProducerDirectory => (node as unknown as { directory: ProducerDirectory }).directory

  before(async () => {
    nodes = await startChain(8)
    for (const a of nodes) for (const b of nodes) if (a !== b) await a.libp2p.dial(multiaddr(b.multiaddrs[0]!))
    await waitConnected(nodes, 10_000, nodes.length - 1)
  })

  after(async () => { await stopAll(nodes) })

  /** Nodes by peer id, closest to the producer's key first (the announcer's view: the whole swarm). */
  const byDistance = async (announcer: SwarmNode, producerId: string): Promise<SwarmNode[]> =>
    (await directoryOf(announcer).homesOf(producerId, undefined, nodes.length)).map((peerId) => nodes.find((n) => n.peerId === peerId)!)

  const holds = (node: SwarmNode, producerId: string, provider: SwarmNode): boolean =>
    directoryOf(node).homeRecords.providers(producerId).includes(provider.peerId)

  it(`go to the ${LOOKUP_HOMES} closest when the announcer is connected to them, and are withdrawn from all of them`, async () => {
    const announcer = nodes[0]!
    const producerId = randomUUID()
    const order = await byDistance(announcer, producerId)
    assert.equal(order.length, nodes.length, 'the announcer knows every node')
    await directoryOf(announcer).announce(producerId)
    const holders = order.slice(0, LOOKUP_HOMES)
    const others = order.slice(LOOKUP_HOMES)
    // The nearby ones (beyond the HOMES) hold it: the rule this test is about.
    assert.ok(order.slice(HOMES, LOOKUP_HOMES).length > 0)
    for (const node of holders) assert.ok(holds(node, producerId, announcer), `node ${order.indexOf(node) + 1} of ${order.length} by distance has no record`)
    for (const node of others) assert.ok(!holds(node, producerId, announcer), `node ${order.indexOf(node) + 1} by distance holds a record`)
    await directoryOf(announcer).withdraw(producerId)
    await waitFor(() => holders.every((node) => !holds(node, producerId, announcer)), { timeoutMs: 5000, what: 'the records withdrawn from every holder' })
  })

  // A requester connected to no holder asks a node it is connected to, which asks the
  // holders it is connected to: no dial, one hop more.
  it('a node without the record answers a forwarding locate with what the holders it is connected to name', async () => {
    const announcer = nodes[0]!
    const producerId = randomUUID()
    const order = await byDistance(announcer, producerId)
    await directoryOf(announcer).announce(producerId)
    const others = order.slice(LOOKUP_HOMES).filter((node) => node !== announcer)
    const [nonHolder, requester] = others.length >= 2 ? others : [others[0]!, order.find((n) => n !== announcer && n !== others[0])!]
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
    await directoryOf(announcer).withdraw(producerId)
  })
})
