// The status page in real Chromium, on real nodes as the binary runs them (node services):
// a hub with 8 peers around it, and a producer on one of them (real RTP) pulled by all the
// others, so that its tree runs origin → hub (relay) → relays → leaves, 9 nodes deep and
// wide. The hub's page is checked with DOM geometry: no two node boxes overlap, no two
// labels intersect (nor a label a box), RTTs are rounded, every node's name is shown, the
// tree has every edge of the real distribution with a label on each, and a leaf's load
// change shows within the page's refresh (fresh, not stale). Screenshots:
// test-results/status-star.png, status-tree.png and status-page.png.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { startNodeService } from '../../src/cli/node-service.js'
import { InvalidStateError } from '../../src/errors.js'
import { createRtpSink, createRtpSource, mediaCodecs, waitFor } from '../harness/index.js'
import { BrowserHarness, RESULTS_DIR } from './harness.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { RtpSink, RtpSource } from '../harness/index.js'
import type { types as ms } from 'mediasoup'
import type { Page } from 'playwright-core'

const PEERS = 8

interface Rect { x: number, y: number, width: number, height: number, what: string }

function intersects (a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

/** Pairs of rectangles that intersect, named. */
function collisions (rects: Rect[], others: Rect[] = []): string[] {
  const found: string[] = []
  rects.forEach((a, i) => {
    for (const b of rects.slice(i + 1)) if (intersects(a, b)) found.push(`${a.what} × ${b.what}`)
    for (const b of others) if (intersects(a, b)) found.push(`${a.what} × ${b.what}`)
  })
  return found
}

/** Page rectangles of boxes and labels inside `scope` (a CSS selector). */
async function geometry (page: Page, scope: string): Promise<{ boxes: Rect[], labels: Rect[] }> {
  // No named functions inside: the page does not have the helpers tsx wraps them in.
  return await page.$eval(scope, (root) => ({
    boxes: [...root.querySelectorAll('[data-role="node"]')].map((g) => ({ r: g.querySelector('[data-role="box"]')!.getBoundingClientRect(), what: `box ${g.querySelector('.name')?.textContent}` }))
      .map(({ r, what }) => ({ x: r.x, y: r.y, width: r.width, height: r.height, what })),
    labels: [...root.querySelectorAll('[data-role="label"]')].map((g) => ({ r: g.getBoundingClientRect(), what: `label "${g.textContent}"` }))
      .map(({ r, what }) => ({ x: r.x, y: r.y, width: r.width, height: r.height, what }))
  }))
}

describe('status page in Chromium: a star of 8 peers, a producer\'s whole tree (origin → relays → leaves, real RTP)', function () {
  this.timeout(60_000)
  const services: NodeService[] = []
  const closers: Array<() => void> = []
  let harness: BrowserHarness | undefined
  let page: Page | undefined

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || page === undefined) return
    const file = path.join(RESULTS_DIR, 'status-page-failure.png')
    await page.screenshot({ path: file, fullPage: true }).then(() => console.log(`      screenshot of the failure: ${file}`), (err: Error) => console.log(`      no screenshot: ${err.message}`))
  })

  after(async () => {
    for (const close of closers) close()
    await harness?.close()
    await Promise.all(services.map(async (s) => await s.stop()))
  })

  it('draws every peer and every tree edge with names, rounded RTTs, loads fresh, and nothing overlapping', async () => {
    const t0 = performance.now()
    const mark = (what: string): void => console.log(`      ${what}: ${Math.round(performance.now() - t0)} ms`)
    const start = async (name: string, bootstrap: string[], fanout: number): Promise<NodeService> => {
      // A busy machine may take seconds to announce the producer: lookups wait for it.
      const service = await startNodeService({ node: { name, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, fanout, timeouts: { lookup: 15_000 } }, http: { host: '127.0.0.1', port: 0 } })
      services.push(service)
      return service
    }
    // The hub relays to 3, the other relays to 4; the origin sends to the hub only.
    const hub = await start('hub', [], 3)
    // The browser starts meanwhile. The peers one after the other: all dial the hub from
    // 127.0.0.1, and more than 5 new connections a second from one IP are refused.
    const browser = BrowserHarness.start().then((h) => { harness = h })
    const peers: NodeService[] = []
    for (let i = 1; i <= PEERS; i++) peers.push(await start(i === 1 ? 'origin-node-with-a-rather-long-name' : `peer-${i}`, hub.node.multiaddrs, i === 1 ? 1 : 4))
    await browser
    const [origin, ...leaves] = peers as [NodeService, ...NodeService[]]
    await waitFor(() => {
      const names = hub.node.peerNames()
      const rtts = hub.node.rtts()
      return peers.every((p) => names[p.node.peerId] === p.node.name && rtts[p.node.peerId] !== undefined)
    }, {
      timeoutMs: 15_000,
      what: 'the hub knowing its 8 peers\' names and RTTs',
      progress: () => `${Object.keys(hub.node.peerNames()).length} names, ${Object.keys(hub.node.rtts()).length} RTTs, ${hub.node.peers.length} peers`
    })

    mark('nodes up')
    const source: RtpSource = await createRtpSource({ router: await origin.node.createRouter({ mediaCodecs }), kind: 'video' })
    closers.push(() => source.close())
    const producerId = source.producer.id
    const sinks: RtpSink[] = []
    const routers = new Map<NodeService, ms.Router>()
    // A node recruited as a relay has the producer in a router of its own already (one per worker).
    const holding = (service: NodeService): ms.Router | undefined => service.node.routers().find((r) => service.node.producersIn(r).some((p) => p.id === producerId))
    const routerFor = async (service: NodeService): Promise<ms.Router> => {
      const router = holding(service) ?? await service.node.createRouter({ mediaCodecs })
      try {
        await service.node.pipeToRouter({ producerId, router })
        return router
      } catch (err) {
        if (!(err instanceof InvalidStateError) || holding(service) === undefined) throw err
        router.close()
        return holding(service)!
      }
    }
    const consume = async (service: NodeService): Promise<RtpSink> => {
      let router = routers.get(service)
      if (router === undefined) routers.set(service, router = await routerFor(service))
      const sink = await createRtpSink({ router, producerId })
      closers.push(() => sink.close())
      sinks.push(sink)
      return sink
    }
    // The hub first (the origin's one downstream slot), then the others at once: the hub
    // redirects them to relays of its own.
    await consume(hub)
    await Promise.all(leaves.map(async (service) => await consume(service)))
    await Promise.all(sinks.map(async (sink) => await sink.waitForPackets(10, { timeoutMs: 10_000 })))

    mark('media flowing')
    const all = [hub, ...peers]
    const byPeer = new Map(all.map((s) => [s.node.peerId, s]))
    const expected = all.flatMap((s) => {
      const upstream = s.node.getDistribution(producerId)?.upstream
      return upstream === null || upstream === undefined ? [] : [`${upstream}>${s.node.peerId}`]
    }).sort()
    assert.equal(expected.length, PEERS, `every node but the origin has an upstream: ${expected.join(', ')}`)
    const depth = Math.max(...all.map((s) => s.node.getDistribution(producerId)!.route.length))
    assert.ok(depth >= 3, `a tree at least origin → relay → leaf deep (route of ${depth})`)

    page = await harness!.browser.newPage({ viewport: { width: 2200, height: 1000 } })
    await page.goto(`${hub.httpUrl}/`)
    const section = `[data-role="producer"][data-producer="${producerId}"]`
    const drawnEdges = async (): Promise<string[]> => await page!.$$eval(`${section} [data-role="edge"]`, (els) => els.map((e) => `${e.getAttribute('data-from')}>${e.getAttribute('data-to')}`).sort())
    await waitFor(async () => (await drawnEdges()).length === expected.length, { timeoutMs: 10_000, what: 'the whole tree on the page', progress: () => 'edges drawn so far' })
    assert.deepEqual(await drawnEdges(), expected)
    mark('tree drawn')

    // Names: this node's, each peer's in the star, each tree node's.
    assert.equal(await page.textContent('#name'), 'hub')
    for (const s of all) {
      const star = await page.$eval(`#peer-graph [data-role="node"][data-peer="${s.node.peerId}"] .name`, (e) => e.textContent ?? '')
      const inTree = await page.$eval(`${section} [data-role="node"][data-peer="${s.node.peerId}"] .name`, (e) => e.textContent ?? '')
      for (const shown of [star, inTree]) {
        assert.ok(shown.length > 0 && (s.node.name.startsWith(shown.replace(/…$/, ''))), `${s.node.name} shown as "${shown}"`)
      }
      const tip = await page.$eval(`${section} [data-role="node"][data-peer="${s.node.peerId}"] title`, (e) => e.textContent ?? '')
      assert.ok(tip.includes(s.node.name) && tip.includes(s.node.peerId.slice(8, 16)), `tooltip "${tip}"`)
    }

    // RTTs: one per peer, rounded to 0.1 ms, on the star and in the table.
    const rtts = await page.$$eval('#peer-graph [data-kind="rtt"]', (els) => els.map((e) => e.textContent ?? ''))
    assert.equal(rtts.length, PEERS)
    for (const rtt of rtts) assert.match(rtt, /^\d+\.\d ms$/)
    const tableRtts = await page.$$eval('#peers tr td:nth-child(3)', (els) => els.map((e) => e.textContent ?? ''))
    for (const rtt of tableRtts) assert.match(rtt, /^\d+\.\d ms$/)

    // Every edge has its label; bitrate and loss on it once a sampler gives figures.
    const edgeLabels = async (): Promise<string[]> => await page!.$$eval(`${section} [data-kind="edge"]`, (els) => els.map((e) => e.textContent ?? ''))
    assert.equal((await edgeLabels()).length, expected.length)
    const status = await (await fetch(`${hub.httpUrl}/status`)).json() as { media?: unknown, producers: Array<{ producerId: string, tree?: { nodes: Array<{ answered: boolean }> } }> }
    const tree = status.producers.find((p) => p.producerId === producerId)?.tree
    assert.ok(tree !== undefined && tree.nodes.length === PEERS + 1 && tree.nodes.every((n) => n.answered), 'every node of the tree answered')
    if (status.media === undefined) {
      console.log('      /status has no media figures (no sampler in this build): edge labels say so')
      for (const text of await edgeLabels()) assert.equal(text, 'no figures yet')
    } else {
      await waitFor(async () => (await edgeLabels()).every((t) => /\d (bps|kbps|Mbps) · \d+\.\d% loss$/.test(t)), { timeoutMs: 25_000, what: 'bitrate and loss on every edge' })
    }

    // Nothing overlaps: boxes, labels, in the star and in the tree.
    for (const scope of ['#peer-graph', section]) {
      const { boxes, labels } = await geometry(page, scope)
      assert.equal(boxes.length, PEERS + 1, `${scope}: boxes`)
      assert.deepEqual(collisions(boxes), [], `${scope}: boxes overlap`)
      assert.deepEqual(collisions(labels, boxes), [], `${scope}: labels collide`)
    }

    // Fresh loads: a second consumer on a leaf shows in its box within the page's refresh.
    const leaf = leaves.at(-1)!
    const loadShown = async (): Promise<string> => await page!.$eval(`${section} [data-role="node"][data-peer="${leaf.node.peerId}"]`, (e) => e.textContent ?? '')
    await consume(leaf)
    const load = leaf.node.capacity.load
    await waitFor(async () => (await loadShown()).includes(`load ${load}/`), { timeoutMs: 8000, what: `leaf's load ${load} on the page`, progress: () => 'stale' })

    mark('fresh load shown')
    await fs.mkdir(RESULTS_DIR, { recursive: true })
    await page.locator('#peer-graph').screenshot({ path: path.join(RESULTS_DIR, 'status-star.png') })
    await page.locator(section).screenshot({ path: path.join(RESULTS_DIR, 'status-tree.png') })
    await page.screenshot({ path: path.join(RESULTS_DIR, 'status-page.png'), fullPage: true })
    console.log(`      tree: ${expected.length} edges, route depth ${depth}; ${[...byPeer.values()].map((s) => `${s.node.name}: ${s.node.getDistribution(producerId)?.downstream.length}`).join(', ')}`)
  })
})
