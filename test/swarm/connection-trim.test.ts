import assert from 'node:assert/strict'
import { createSwarmNode } from '../../src/index.js'
import { GRACE_MS } from '../../src/p2p/connection-trimmer.js'
import { createRtpSink, createRtpSource, mediaCodecs, sleep, waitFor } from '../harness/index.js'
import { stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

const MAX = 3
const NEWCOMERS = 5

// A full node must not close its door: libp2p refuses every inbound connection once a node
// holds its maximum, and a node full of DHT connections then turned away the nodes that
// bootstrap from it (at N = 50, maxConnections 32: a joining node never got in). Now
// newcomers get in past `maxConnections`, and the node trims back toward it once they are
// GRACE_MS old: ordinary peers first, never one it pipes media to nor one of the DHT's
// closest (connection-trimmer.ts; its choice is unit-tested in test/p2p/).
describe('a node at maxConnections', function () {
  this.timeout(90_000)
  let nodes: SwarmNode[] = []

  afterEach(async () => { await stopAll(nodes); nodes = [] })

  it(`lets newcomers in past it (${NEWCOMERS} on a maximum of ${MAX}), keeping the peer it pipes media to past the grace period`, async () => {
    const hub = await createSwarmNode({ maxConnections: MAX })
    nodes.push(hub)
    const routerHub = await hub.createRouter({ mediaCodecs })
    const source = await createRtpSource({ router: routerHub, kind: 'audio', packetsPerSecond: 50 })
    const newcomers: SwarmNode[] = []
    for (let i = 0; i < NEWCOMERS; i++) {
      const node = await createSwarmNode({ bootstrap: hub.multiaddrs })
      nodes.push(node)
      newcomers.push(node)
    }
    // Each bootstraps from the hub alone: it is in the swarm only if the hub let it in.
    await waitFor(() => newcomers.every((n) => n.peers.includes(hub.peerId)), { timeoutMs: 15_000, what: 'every newcomer connected to the hub' })
    const peak = hub.libp2p.getConnections().length
    assert.ok(peak > MAX, `the hub holds ${peak} connections, more than its maximum of ${MAX} (else nothing is trimmed below)`)

    // Media from the hub to the last newcomer: a pipe, tagged to stay. (Its announcement
    // has reached the newcomers by now: this is no test of a race with it.)
    const viewer = newcomers.at(-1)!
    const routerViewer = await viewer.createRouter({ mediaCodecs })
    await sleep(2000)
    const closedByHub = new Set<string>()
    hub.libp2p.addEventListener('connection:close', (event) => closedByHub.add(event.detail.remotePeer.toString()))
    const { pipeProducer } = await viewer.pipeToRouter({ producerId: source.producer.id, router: routerViewer })
    const sink = await createRtpSink({ router: routerViewer, producerId: pipeProducer.id })
    try {
      await sink.waitForPackets(5, { timeoutMs: 5000 })
      // Past GRACE_MS the hub would close ordinary peers' connections (which, in a swarm
      // this small, are all among its DHT's closest and kept: the choice itself is unit-tested
      // in test/p2p/connection-trimmer.test.ts); the pipe peer's stays, and media flows on.
      await sleep(GRACE_MS + 2000)
      assert.ok(!closedByHub.has(viewer.peerId), 'the pipe peer was kept')
      assert.ok(hub.libp2p.getConnections().length <= MAX * 2, 'within the hard limit')
      const before = sink.packets
      await sink.waitForPackets(before + 10, { timeoutMs: 5000 })
    } finally {
      sink.close()
      source.close()
    }
  })
})
