// Simulcast and SVC across nodes, with real Chromium: a publisher page on node A sends its
// fake camera at 1280x720 as VP8 simulcast (3 encodings: 1/4, 1/2 and full size), and in a
// second case as VP9 SVC (L3T3); a viewer page on node C receives it through relay B (A
// serves one downstream pipe) and switches spatial layers with setConsumerPreferredLayers:
// the decoded frame width (the viewer's inbound-rtp frameWidth) follows. The copy on C is
// a PipeProducer (B's pipe consumer forwards every layer); C's consumer of it picks them.
import assert from 'node:assert/strict'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitConnected } from '../harness/swarm.js'
import { BrowserHarness } from './harness.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { PublishOptions, ViewerPage } from './harness.js'

async function startSite (bootstrap: string[]): Promise<NodeService> {
  return await startNodeService({
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, fanout: 1 },
    http: { host: '127.0.0.1', port: 0 },
    signalling: { listenIp: '127.0.0.1', port: 0 }
  })
}

/** Waits until the viewer decodes `producerId` at a frame width accepted by `wanted`; returns that width and how long it took. */
async function widthBecomes (viewer: ViewerPage, producerId: string, wanted: (width: number) => boolean, timeoutMs: number): Promise<{ width: number, ms: number, seen: number[] }> {
  const started = Date.now()
  const seen: number[] = []
  while (Date.now() - started < timeoutMs) {
    const width = (await viewer.stats()).find((s) => s.producerId === producerId)?.frameWidth
    if (width !== undefined && seen.at(-1) !== width) seen.push(width)
    if (width !== undefined && wanted(width)) return { width, ms: Date.now() - started, seen }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`frame width never matched within ${timeoutMs} ms; widths seen: ${seen.join(', ')}`)
}

describe('simulcast and SVC across nodes: a viewer on C (through relay B) switches the spatial layers of a publisher on A', function () {
  this.timeout(120_000)
  const sites: NodeService[] = []
  let harness: BrowserHarness

  before(async () => {
    for (let i = 0; i < 3; i++) sites.push(await startSite(i === 0 ? [] : sites[i - 1]!.node.multiaddrs))
    await waitConnected(sites.map((s) => s.node))
    harness = await BrowserHarness.start({ callTimeoutMs: 30_000 })
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

  async function switchLayers (publish: PublishOptions, label: string, copyType: 'simulcast' | 'svc'): Promise<void> {
    const [a, b, c] = sites as [NodeService, NodeService, NodeService]
    const publisher = await harness.openPublisher(a.signallingUrl!, publish)
    const producerId = publisher.published.video!
    // B pulls it first and takes A's only downstream slot: C's pull is redirected to B.
    await b.node.pipeToRouter({ producerId, router: b.node.routers()[0]! })
    const viewer = await harness.openViewer(c.signallingUrl!, [producerId])
    await harness.waitForMediaFlowing(viewer, { timeoutMs: 30_000 })
    assert.deepEqual(c.node.getDistribution(producerId)?.route, [a.node.peerId, b.node.peerId, c.node.peerId], 'C receives through B')
    // C's copy is a simulcast (or SVC) producer in its own right: every layer crossed A → B → C.
    const copy = c.node.producersIn(c.node.routers()[0]!).find((p) => p.id === producerId)
    assert.equal(copy?.type, copyType)
    assert.equal(copy.rtpParameters.encodings?.length, copyType === 'simulcast' ? 3 : 1)
    const encodings = (await a.node.producersIn(a.node.routers()[0]!).find((p) => p.id === producerId)!.getStats()).map((s) => `${s.rid ?? s.ssrc}:${s.bitrate}`)

    await viewer.setPreferredLayers(producerId, 0)
    const low = await widthBecomes(viewer, producerId, (w) => w <= 320, 30_000)
    await viewer.setPreferredLayers(producerId, 2)
    const high = await widthBecomes(viewer, producerId, (w) => w >= 1280, 45_000)
    await viewer.setPreferredLayers(producerId, 1)
    const middle = await widthBecomes(viewer, producerId, (w) => w > 320 && w < 1280, 30_000)
    const layerEvents = (await viewer.clientEvents()).filter((e) => e.type === 'layerschange')
    console.log(`      ${label}: origin streams ${encodings.join(' ')}; layer 0 → width ${low.width} after ${low.ms} ms (seen ${low.seen.join(', ')}); ` +
      `layer 2 → ${high.width} after ${high.ms} ms (seen ${high.seen.join(', ')}); layer 1 → ${middle.width} after ${middle.ms} ms; ${layerEvents.length} layerschange events`)
    assert.ok(layerEvents.some((e) => (e.detail.layers as { spatialLayer?: number } | null)?.spatialLayer === 0), 'the client heard consumerLayersChanged to spatial layer 0')
    await viewer.close()
    await publisher.close()
  }

  it('VP8 simulcast, 3 encodings at 1280x720: spatial layer 0 decodes at 320 wide, layer 2 at 1280, layer 1 in between', async () => {
    await switchLayers({
      audio: false,
      video: true,
      width: 1280,
      height: 720,
      codec: 'video/VP8',
      encodings: [{ scaleResolutionDownBy: 4, maxBitrate: 100_000 }, { scaleResolutionDownBy: 2, maxBitrate: 300_000 }, { scaleResolutionDownBy: 1, maxBitrate: 900_000 }]
    }, 'VP8 simulcast', 'simulcast')
  })

  it('VP9 SVC L3T3 at 1280x720 (Debian\'s Chromium sends it): the same switches', async () => {
    await switchLayers({ audio: false, video: true, width: 1280, height: 720, codec: 'video/VP9', encodings: [{ scalabilityMode: 'L3T3' }] }, 'VP9 SVC L3T3', 'svc')
  })
})
