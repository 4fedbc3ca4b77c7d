import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { connectAll, startChain, stopAll } from '../harness/swarm.js'
import type { ProducerDirectory } from '../../src/directory/producer-directory.js'
import type { SwarmNode } from '../../src/index.js'

const WAIT_MS = 1500

// A `locate` of a producer with no record yet: a home (one of the 3 nodes closest to the
// key that it knows of) holds it up to `waitMs` for the announcement to land; any other
// node answers at once with the closer nodes it knows, so that a requester whose view is
// far from the key (a node that just joined) does not lose a second per round.
describe('locate of a producer with no record yet', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  const directoryOf = (node: SwarmNode): ProducerDirectory => (node as unknown as { directory: ProducerDirectory }).directory

  before(async () => {
    nodes = await startChain(5)
    // Every node knows every other: each node's view of the homes is then the true one.
    await connectAll(nodes)
  })

  after(async () => { await stopAll(nodes) })

  const locate = async (from: SwarmNode, to: SwarmNode, producerId: string): Promise<{ ms: number, closer: string[], providers: string[] }> => {
    const t0 = performance.now()
    const answer = await request(from.libp2p, to.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'locate', producerId, waitMs: WAIT_MS }, WAIT_MS + 5000)
    assert.equal(answer.type, 'providers')
    if (answer.type !== 'providers') throw new Error('unreachable')
    return { ms: performance.now() - t0, closer: (answer.closer ?? []).map((c) => c.peerId), providers: answer.providers.map((p) => p.peerId) }
  }

  /** A producer id and two nodes: one that is its home in its own view, one that is not. */
  const pick = async (): Promise<{ producerId: string, home: SwarmNode, other: SwarmNode, asker: SwarmNode }> => {
    for (;;) {
      const producerId = randomUUID()
      const homes = await Promise.all(nodes.map(async (n) => await directoryOf(n).isHomeOf(producerId)))
      const home = nodes.find((_, i) => homes[i])
      const others = nodes.filter((_, i) => !homes[i])
      if (home !== undefined && others.length >= 2) return { producerId, home, other: others[0]!, asker: others[1]! }
    }
  }

  it('a node that is not a home answers at once and names closer nodes; a home waits for the announcement', async () => {
    const { producerId, home, other, asker } = await pick()
    const fromOther = await locate(asker, other, producerId)
    assert.ok(fromOther.ms < WAIT_MS / 2, `non-home took ${fromOther.ms} ms`)
    assert.deepEqual(fromOther.providers, [])
    assert.ok(fromOther.closer.includes(home.peerId), `non-home named ${fromOther.closer.join(' ')}, not the home ${home.peerId}`)
    // The home holds the lookup for the whole wait: the path above really skipped it.
    const fromHome = await locate(asker, home, producerId)
    assert.ok(fromHome.ms >= WAIT_MS - 50, `home answered after ${fromHome.ms} ms`)
    assert.deepEqual(fromHome.providers, [])
  })

  it('a home holding a lookup answers as soon as the announcement lands', async () => {
    const { producerId, home, other, asker } = await pick()
    const held = locate(asker, home, producerId)
    await new Promise((resolve) => setTimeout(resolve, 300))
    // `other` announces the producer to the home (a provider can only announce itself).
    await request(other.libp2p, home.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'announce', producerIds: [producerId], withdrawn: [] }, 5000)
    const answer = await held
    assert.deepEqual(answer.providers, [other.peerId])
    assert.ok(answer.ms < WAIT_MS - 200, `answered after ${answer.ms} ms: not when the announcement landed`)
  })
})
