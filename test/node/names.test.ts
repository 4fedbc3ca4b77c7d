// Node names: the `name` option (validated, default the host name), told to peers in libp2p
// identify and read back from it (src/p2p/peer-names.ts), on real nodes.
import assert from 'node:assert/strict'
import os from 'node:os'
import { createSwarmNode } from '../../src/index.js'
import { defaultNodeName } from '../../src/node/options.js'
import { agentVersionOf, nameOfAgent } from '../../src/p2p/peer-names.js'
import { waitFor } from '../harness/index.js'
import { stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

describe('node names', function () {
  this.timeout(30_000)
  const nodes: SwarmNode[] = []
  after(async () => await stopAll(nodes))

  it('each node knows its peers\' names once connected; the default is the host name', async () => {
    nodes.push(await createSwarmNode({ name: 'node-a' }))
    nodes.push(await createSwarmNode({ bootstrap: nodes[0]!.multiaddrs }))
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    assert.equal(a.name, 'node-a')
    assert.equal(b.name, defaultNodeName(os.hostname()))
    await waitFor(() => a.peerNames()[b.peerId] === b.name && b.peerNames()[a.peerId] === 'node-a', { timeoutMs: 10_000, what: 'names exchanged', progress: () => JSON.stringify([a.peerNames(), b.peerNames()]) })
  })

  const invalid: unknown[] = ['', 'a b', 'n'.repeat(65), '<script>', 'naïve', 42]
  for (const name of invalid) {
    it(`createSwarmNode() refuses the name ${JSON.stringify(name)} with TypeError`, async () => {
      await assert.rejects(createSwarmNode({ name: name as string }), TypeError)
    })
  }

  it('the default name is the host name made valid: other characters become -, cut at 64', () => {
    assert.equal(defaultNodeName('media-3.example.org'), 'media-3.example.org')
    assert.equal(defaultNodeName('my host'), 'my-host')
    assert.equal(defaultNodeName('h'.repeat(80)), 'h'.repeat(64))
    assert.equal(defaultNodeName(''), 'node')
  })

  it('the identify agent version carries the name; another agent, or an invalid name, tells none', () => {
    assert.equal(agentVersionOf('media-3', '2.0.0'), 'mediasoup-swarm/2.0.0 name=media-3')
    assert.equal(nameOfAgent(agentVersionOf('media-3', '2.0.0')), 'media-3')
    for (const agent of [undefined, 'js-libp2p/3.0.0 UserAgent=node/20', 'mediasoup-swarm/2.0.0 name=<b>', 'mediasoup-swarm/2.0.0 name=a b', `mediasoup-swarm/2.0.0 name=${'n'.repeat(65)}`]) {
      assert.equal(nameOfAgent(agent), undefined, String(agent))
    }
  })
})
