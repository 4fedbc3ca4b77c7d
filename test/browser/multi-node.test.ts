// Three swarm nodes, real browsers: a publisher page on node A, viewer pages on B and C.
// A serves one downstream pipe (fan-out 1), so C must receive through B, a relay.
import assert from 'node:assert/strict'
import path from 'node:path'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitConnected } from '../harness/swarm.js'
import { BrowserHarness, RESULTS_DIR } from './harness.js'
import type { NodeService } from '../../src/cli/node-service.js'

/** A node as the binary runs it: status page, metrics, browser signalling (WebRtcServer). */
async function startSite (bootstrap: string[]): Promise<NodeService> {
  return await startNodeService({
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, fanout: 1 },
    http: { host: '127.0.0.1', port: 0 },
    signalling: { listenIp: '127.0.0.1', port: 0 }
  })
}

describe('browsers on three nodes: publisher on A, viewers on B and on C (through relay B)', function () {
  this.timeout(60_000)
  const sites: NodeService[] = []
  let harness: BrowserHarness

  before(async () => {
    for (let i = 0; i < 3; i++) sites.push(await startSite(i === 0 ? [] : sites[i - 1]!.node.multiaddrs))
    await waitConnected(sites.map((s) => s.node))
    harness = await BrowserHarness.start()
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
    }
  })

  after(async () => {
    await harness?.close()
    for (const site of sites) await site.stop()
  })

  it('video frames are decoded and audio packets received on both viewers; C receives through B', async () => {
    const [a, b, c] = sites as [NodeService, NodeService, NodeService]
    const publisher = await harness.openPublisher(a.signallingUrl!)
    assert.equal(publisher.producerIds.length, 2)

    const viewerB = await harness.openViewer(b.signallingUrl!, publisher.producerIds)
    const onB = await harness.waitForMediaFlowing(viewerB)
    const viewerC = await harness.openViewer(c.signallingUrl!, publisher.producerIds)
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

    // B's status page, in the browser, draws the tree A → B → C for both producers.
    const page = await harness.browser.newPage()
    try {
      await page.goto(`${b.httpUrl}/`)
      const edges = async (): Promise<string[]> => await page.$$eval('[data-role="edge"]', (els) => els.map((e) => `${e.getAttribute('data-from')}>${e.getAttribute('data-to')}`))
      await page.waitForSelector('[data-role="producer"]', { timeout: 5000 })
      const drawn = await edges()
      const [pa, pb, pc] = [a.node.peerId, b.node.peerId, c.node.peerId]
      assert.equal(drawn.filter((e) => e === `${pa}>${pb}`).length, 2, `edges drawn: ${drawn.join(', ')}`)
      assert.equal(drawn.filter((e) => e === `${pb}>${pc}`).length, 2, `edges drawn: ${drawn.join(', ')}`)
      const text = await page.textContent('body') ?? ''
      for (const id of [pa, pb, pc]) assert.ok(text.includes(id.slice(8, 16)), `short id of ${id} not shown`)
      assert.match(text, /origin/)
      assert.match(text, /subscriber/)
    } catch (err) {
      await page.screenshot({ path: path.join(RESULTS_DIR, 'status-page-failure.png'), fullPage: true })
      throw err
    } finally {
      await page.close()
    }
  })
})
