import assert from 'node:assert/strict'
import { sleep, waitFor } from '../harness/index.js'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { answerPings } from '../harness/yamux-pings.js'
import { pingPeer, pingingMuxer } from '../../src/p2p/liveness-ping.js'
import type { SwarmNode } from '../../src/index.js'
import type { Host } from '../../src/p2p/host.js'

describe('liveness pings (Yamux ping frames)', function () {
  this.timeout(20_000)
  let nodes: SwarmNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  /** Two connected nodes whose first pings (at identify) are over, so that none is under way. */
  async function twoNodes (): Promise<[SwarmNode, SwarmNode]> {
    nodes = await startChain(2)
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    await waitFor(() => a.rtts()[b.peerId] !== undefined && b.rtts()[a.peerId] !== undefined, { what: 'the first pings answered' })
    return [a, b]
  }

  it('are Yamux frames on the open connection, not libp2p ping streams, and time the round trip', async () => {
    const [a, b] = await twoNodes()
    const connection = a.libp2p.getConnections(b.libp2p.peerId)[0]!
    assert.ok(pingingMuxer(connection) !== undefined, 'the connection has a Yamux muxer that pings')
    const pings = answerPings(b, a, () => 0)
    let pingStreams = 0
    await b.libp2p.unhandle('/ipfs/ping/1.0.0')
    await b.libp2p.handle('/ipfs/ping/1.0.0', async (stream) => { pingStreams++; stream.abort(new Error('not expected')) })
    const rtt = await pingPeer(a.libp2p as Host, b.libp2p.peerId, AbortSignal.timeout(2000))
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt} ms`)
    assert.equal(pings.answered.length, 1)
    assert.equal(pingStreams, 0)
  })

  it('a ping answered after its deadline rejects, and leaves the connection open (Yamux would close it on an answer nobody waits for)', async () => {
    const [a, b] = await twoNodes()
    const connection = a.libp2p.getConnections(b.libp2p.peerId)[0]!
    const pings = answerPings(b, a, (n) => n === 0 ? 400 : 0)
    await assert.rejects(pingPeer(a.libp2p as Host, b.libp2p.peerId, AbortSignal.timeout(100)), { name: 'TimeoutError' })
    assert.deepEqual(pings.late, [0], 'the ping reached the delaying handler')
    await sleep(800)
    assert.equal(connection.status, 'open')
    const rtt = await pingPeer(a.libp2p as Host, b.libp2p.peerId, AbortSignal.timeout(2000))
    assert.ok(rtt < 1000, `rtt ${rtt} ms`)
    assert.equal(connection.status, 'open')
  })
})
