// examples/embedded-app end to end: two app servers (two swarm nodes), headless Chromium
// publishing to room 'demo' on server 1 and viewing room 'demo' on server 2.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { startAppServer } from '../../examples/embedded-app/server.js'
import type { AppServer } from '../../examples/embedded-app/server.js'
import type { ClientApp, TrackStats } from '../../examples/embedded-app/client/api.js'
import { CHROMIUM_ARGS, RESULTS_DIR } from '../browser/harness.js'
import { waitConnected } from '../harness/swarm.js'

/** Resolves once every viewed track has started and then grown over one second. */
async function waitForMediaGrowing (viewer: Page, kinds: number, timeoutMs = 15_000): Promise<{ before: TrackStats[], after: TrackStats[] }> {
  const stats = async (): Promise<TrackStats[]> => await viewer.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.stats())
  const count = (s: TrackStats): number => s.kind === 'video' ? s.framesDecoded ?? 0 : s.packetsReceived
  const deadline = Date.now() + timeoutMs
  let last: TrackStats[] = []
  while (Date.now() < deadline) {
    const before = await stats()
    last = before
    if (before.length === kinds && before.every((s) => count(s) > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const after = await stats()
      last = after
      const grown = before.every((b) => {
        const a = after.find((s) => s.producerId === b.producerId)
        return a !== undefined && count(a) - count(b) >= (b.kind === 'video' ? 5 : 10)
      })
      if (grown) return { before, after }
    } else {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error(`media not growing on the viewer within ${timeoutMs} ms; last stats ${JSON.stringify(last)}`)
}

describe('examples/embedded-app: publisher on app server 1, viewer of the room on app server 2', function () {
  this.timeout(30_000)
  let one: AppServer | undefined
  let two: AppServer | undefined
  let browser: Browser | undefined
  const pages: Page[] = []
  const logs = new Map<Page, string[]>()

  before(async () => {
    one = await startAppServer()
    two = await startAppServer({ bootstrap: one.node.multiaddrs, peers: [one.url] })
    one.addPeer(two.url)
    await waitConnected([one.node, two.node])
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    await fs.mkdir(RESULTS_DIR, { recursive: true })
    for (const [i, page] of pages.entries()) {
      if (page.isClosed()) continue
      const base = path.join(RESULTS_DIR, `embedded-app-page${i + 1}`)
      await fs.writeFile(`${base}.log`, (logs.get(page) ?? []).join('\n') + '\n')
      await page.screenshot({ path: `${base}.png`, timeout: 5000 }).catch(() => {})
      console.log(`      failure report: ${base}.{log,png}`)
    }
  })

  after(async () => {
    await browser?.close()
    await Promise.all([one?.close(), two?.close()])
  })

  /** A page of the app's client, in its own browser context. */
  async function open (url: string): Promise<Page> {
    const context = await browser!.newContext()
    const page = await context.newPage()
    const log: string[] = []
    logs.set(page, log)
    page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`))
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`))
    pages.push(page)
    await page.goto(url)
    await page.waitForFunction(() => (globalThis as { app?: unknown }).app !== undefined)
    return page
  }

  it('video frames are decoded and audio packets received on server 2; its node pulled both producers from server 1', async () => {
    const started = Date.now()
    const publisher = await open(one!.url)
    const producerIds = await publisher.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.publish('demo'))
    assert.equal(producerIds.length, 2)
    const published = Date.now()

    const viewer = await open(two!.url)
    await viewer.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.view('demo'))
    const viewing = Date.now()
    const { before, after } = await waitForMediaGrowing(viewer, 2)
    const video = after.find((s) => s.kind === 'video')
    const audio = after.find((s) => s.kind === 'audio')
    assert.ok((video?.framesDecoded ?? 0) > (before.find((s) => s.kind === 'video')?.framesDecoded ?? 0))
    assert.ok((audio?.packetsReceived ?? 0) > (before.find((s) => s.kind === 'audio')?.packetsReceived ?? 0))
    assert.deepEqual(after.map((s) => s.producerId).sort(), [...producerIds].sort())

    for (const producerId of producerIds) {
      assert.equal(two!.node.getDistribution(producerId)?.upstream, one!.node.peerId)
    }
    console.log(`      publish ${published - started} ms, view ${viewing - published} ms, media growing after ${Date.now() - viewing} ms; ` +
      `video ${video?.framesDecoded} frames, audio ${audio?.packetsReceived} packets`)
  })

  it('a viewer already in the room learns of producers published later on the other server, and of their end', async () => {
    const viewer = await open(two!.url)
    await viewer.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.view('later'))
    const publisher = await open(one!.url)
    const producerIds = await publisher.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.publish('later'))
    const published = Date.now()
    await waitForMediaGrowing(viewer, 2)
    const growing = Date.now()

    await publisher.context().close()
    const deadline = Date.now() + 5000
    let left = producerIds.length
    while (left > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = (await viewer.evaluate(async () => await (globalThis as unknown as { app: ClientApp }).app.stats())).length
    }
    assert.equal(left, 0, 'the viewer still has tracks of the closed publisher')
    console.log(`      media growing ${growing - published} ms after publishing; tracks gone ${Date.now() - deadline + 5000} ms after the publisher left`)
  })
})
