// Three swarm nodes, real browsers: a publisher page on node A, viewer pages on B and C.
// A serves one downstream pipe (fan-out 1), so C must receive through B, a relay.
import assert from 'node:assert/strict'
import http from 'node:http'
import { createClientSignalling } from '../../src/signalling/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { BrowserHarness } from './harness.js'
import type { AddressInfo } from 'node:net'
import type { ClientSignalling } from '../../src/signalling/index.js'
import type { SwarmNode } from '../../src/index.js'

interface NodeWithSignalling {
  node: SwarmNode
  wsUrl: string
  close: () => Promise<void>
}

/** Client signalling for browsers on a swarm node; remote producers are pulled on consume. */
async function withSignalling (node: SwarmNode): Promise<NodeWithSignalling> {
  const router = await node.createRouter({ mediaCodecs })
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const signalling: ClientSignalling = createClientSignalling({
    server,
    router,
    listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    resolveProducer: async (producerId) => await node.pipeToRouter({ producerId, router })
  })
  return {
    node,
    wsUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      signalling.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

describe('browsers on three nodes: publisher on A, viewers on B and on C (through relay B)', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  let sites: NodeWithSignalling[] = []
  let harness: BrowserHarness

  before(async () => {
    nodes = await startChain(3, { fanout: 1 })
    await waitConnected(nodes)
    sites = await Promise.all(nodes.map(withSignalling))
    harness = await BrowserHarness.start()
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
    }
  })

  after(async () => {
    await harness?.close()
    for (const site of sites) await site.close()
    await stopAll(nodes)
  })

  it('video frames are decoded and audio packets received on both viewers; C receives through B', async () => {
    const [a, b, c] = sites as [NodeWithSignalling, NodeWithSignalling, NodeWithSignalling]
    const publisher = await harness.openPublisher(a.wsUrl)
    assert.equal(publisher.producerIds.length, 2)

    const viewerB = await harness.openViewer(b.wsUrl, publisher.producerIds)
    const onB = await harness.waitForMediaFlowing(viewerB)
    const viewerC = await harness.openViewer(c.wsUrl, publisher.producerIds)
    const onC = await harness.waitForMediaFlowing(viewerC)
    for (const report of [onB, onC]) {
      assert.ok((report.stats.find((s) => s.kind === 'video')?.framesDecoded ?? 0) > 0)
      assert.ok((report.stats.find((s) => s.kind === 'audio')?.packetsReceived ?? 0) > 0)
    }
    console.log(`      B: first frame ${onB.firstFrameMs?.toFixed(0)} ms, ${onB.fps} fps; C: first frame ${onC.firstFrameMs?.toFixed(0)} ms, ${onC.fps} fps`)

    for (const producerId of publisher.producerIds) {
      assert.deepEqual(a.node.getDistribution(producerId)?.downstream, [b.node.peerId])
      assert.equal(b.node.getDistribution(producerId)?.upstream, a.node.peerId)
      assert.deepEqual(b.node.getDistribution(producerId)?.downstream, [c.node.peerId])
      assert.deepEqual(c.node.getDistribution(producerId)?.route, [a.node.peerId, b.node.peerId, c.node.peerId])
    }
  })
})
