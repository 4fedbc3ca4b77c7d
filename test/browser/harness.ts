// Drives real browsers for end-to-end tests: Debian's Chromium (never a downloaded one)
// through playwright-core, loading a test page whose script (./page/main.ts, bundled here
// with esbuild) publishes or views with the shipped browser helper (mediasoup-swarm/client)
// over the client signalling (docs/client-signalling.md).
// One harness = one browser; each publisher or viewer is a page in its own context, so a
// test can open as many as it needs, against as many nodes as it runs.
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { ClientEventRecord, DataReport, ElementReport, FrameSample, PublishOptions, PublishResult, TrackStats } from './page/api.js'

export type { ClientEventRecord, DataReport, ElementReport, FrameSample, PublishOptions, PublishResult, TrackStats } from './page/api.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const PAGE_ENTRY = path.join(import.meta.dirname, 'page/main.ts')

/** Where screenshots and page logs of failures go (git-ignored). */
export const RESULTS_DIR = path.join(ROOT, 'test-results')

/**
 * Chromium flags measured to work on these hosts (docs: browser-e2e-notes.md).
 * `--allow-loopback-in-peer-connection` lets ICE use 127.0.0.1, where the test nodes
 * listen; on a loopback-only host it is the only way to connect.
 */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection'
]

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>mediasoup-swarm test page</title></head>
<body style="margin:0;background:#222"><div id="media"></div><script src="/page.js"></script></body></html>`

let bundle: Promise<string> | undefined

/** The page script bundled once per process, in memory. */
export async function pageBundle (): Promise<string> {
  bundle ??= build({
    entryPoints: [PAGE_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: 'inline',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' }
  }).then((r) => r.outputFiles[0]?.text ?? '')
  return await bundle
}

export interface BrowserHarnessOptions {
  /** Chromium binary. Default `/usr/bin/chromium` (Debian's package). */
  executablePath?: string
  /** Flags added to CHROMIUM_ARGS. Default none. */
  extraArgs?: string[]
  /** Deadline of one page call (publish, view, stats). Default 20000 ms. */
  callTimeoutMs?: number
}

export interface WaitForMediaOptions {
  /** Give up after this long. Default 15000 ms. */
  timeoutMs?: number
  /** Growth measured over this window once every track has started. Default 1000 ms. */
  windowMs?: number
  /** Least growth of video framesDecoded per track over the window. Default 5. */
  minFrames?: number
  /** Least growth of audio packetsReceived per track over the window. Default 10. */
  minPackets?: number
}

/** What waitForMediaFlowing() measured. */
export interface MediaFlowReport {
  /** From the call until every track had started and grown over one window. */
  elapsedMs: number
  /** Slowest first video frame among the viewer's tracks, from its view() call. */
  firstFrameMs: number | undefined
  /** Video frames decoded per second over the window (the slowest track). */
  fps: number
  stats: TrackStats[]
}

/** A page of the harness; `page` is the playwright Page for anything else. */
export class HarnessPage {
  /** Console lines and page errors, kept for failure reports. */
  readonly log: string[] = []

  constructor (readonly name: string, readonly page: Page, private readonly context: BrowserContext, private readonly callTimeoutMs: number) {
    page.on('console', (m) => this.log.push(`[${m.type()}] ${m.text()}`))
    page.on('pageerror', (e) => this.log.push(`[pageerror] ${e.message}`))
  }

  /** Runs `window.swarmTest[method](...args)` in the page, within the call deadline. */
  protected async call<T> (method: string, ...args: unknown[]): Promise<T> {
    const run = this.page.evaluate(async ([m, a]) => {
      const api = (globalThis as unknown as { swarmTest: Record<string, (...x: unknown[]) => Promise<unknown>> }).swarmTest
      return await api[m as string]!(...(a as unknown[]))
    }, [method, args] as const) as Promise<T>
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name}: ${method}() took over ${this.callTimeoutMs} ms`)), this.callTimeoutMs)
    })
    try {
      return await Promise.race([run, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Saves a screenshot and the page log under test-results/; returns the screenshot path. */
  async saveFailureReport (label: string): Promise<string> {
    await fs.mkdir(RESULTS_DIR, { recursive: true })
    const base = path.join(RESULTS_DIR, `${label.replace(/[^\w.-]+/g, '_').slice(0, 120)}-${this.name}`)
    await fs.writeFile(`${base}.log`, this.log.join('\n') + '\n')
    await this.page.screenshot({ path: `${base}.png`, timeout: 5000 })
    return `${base}.png`
  }

  async close (): Promise<void> {
    await this.context.close()
  }
}

export class PublisherPage extends HarnessPage {
  /** Set by the harness once publish() resolved. */
  published: PublishResult = { handlerName: '' }

  /** @internal */
  async publish (wsUrl: string, options: PublishOptions): Promise<PublishResult> {
    this.published = await this.call<PublishResult>('publish', wsUrl, options)
    return this.published
  }

  /** The producer ids, audio first. */
  get producerIds (): string[] {
    return [this.published.audio, this.published.video].filter((id): id is string => id !== undefined)
  }
}

export class ViewerPage extends HarnessPage {
  /** Consumes more producers with a new client of `urls` (the first that answers; the others are where it may move). */
  async view (urls: string | string[], producerIds: string[]): Promise<string[]> {
    return await this.call<string[]>('view', urls, producerIds)
  }

  async stats (): Promise<TrackStats[]> {
    return await this.call<TrackStats[]>('stats')
  }

  /** From now on the page samples framesDecoded of its videos every `intervalMs`. */
  async startSampling (intervalMs: number): Promise<void> {
    await this.call('startSampling', intervalMs)
  }

  async samples (): Promise<FrameSample[]> {
    return await this.call<FrameSample[]>('samples')
  }

  /** Events of the page's SwarmClients (restored, reconnected, ended, closed). */
  async clientEvents (): Promise<ClientEventRecord[]> {
    return await this.call<ClientEventRecord[]>('clientEvents')
  }

  /** Its media elements, with the frames painted after `since` (epoch ms). */
  async elements (since: number): Promise<ElementReport[]> {
    return await this.call<ElementReport[]>('elements', since)
  }

  /** Asks the node for these layers of a viewed simulcast or SVC producer. */
  async setPreferredLayers (producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    await this.call('setPreferredLayers', producerId, spatialLayer, temporalLayer)
  }
}

/** A page with data channels: one that publishes (publishData, sendData) or one that consumes (consumeData, dataReport). */
export class DataPage extends HarnessPage {
  /** Opens a data channel on the node of `wsUrl`; resolves with its data producer id once it is open. */
  async publishData (wsUrl: string, label: string): Promise<string> {
    return await this.call<string>('publishData', wsUrl, label)
  }

  async sendData (prefix: string, count: number): Promise<void> {
    await this.call('sendData', prefix, count)
  }

  /** Consumes `dataProducerId` from the node of `wsUrl`; messages starting with `prefix` are counted. */
  async consumeData (wsUrl: string, dataProducerId: string, prefix: string): Promise<string> {
    return await this.call<string>('consumeData', wsUrl, dataProducerId, prefix)
  }

  async dataReport (): Promise<DataReport> {
    return await this.call<DataReport>('dataReport')
  }
}

export class BrowserHarness {
  private readonly pages: HarnessPage[] = []
  private count = 0

  private constructor (readonly browser: Browser, private readonly server: http.Server, readonly pageUrl: string, private readonly callTimeoutMs: number) {}

  /** Bundles the page (once per process), serves it on 127.0.0.1 and launches Chromium. */
  static async start (options: BrowserHarnessOptions = {}): Promise<BrowserHarness> {
    const script = await pageBundle()
    const server = http.createServer((req, res) => {
      if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE_HTML)
      else if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script)
      else if (req.url === '/favicon.ico') res.writeHead(204).end()
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    try {
      const browser = await chromium.launch({
        executablePath: options.executablePath ?? '/usr/bin/chromium',
        args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])]
      })
      return new BrowserHarness(browser, server, pageUrl, options.callTimeoutMs ?? 20_000)
    } catch (err) {
      server.close()
      throw err
    }
  }

  /** Opens a page that publishes the fake camera and microphone to `wsUrl`. */
  async openPublisher (wsUrl: string, options: PublishOptions = { audio: true, video: true }): Promise<PublisherPage> {
    const publisher = await this.open((name, page, context) => new PublisherPage(name, page, context, this.callTimeoutMs), 'publisher')
    await publisher.publish(wsUrl, options)
    return publisher
  }

  /** Opens a page that consumes `producerIds` from the first of `urls` (the others: where it may move). */
  async openViewer (urls: string | string[], producerIds: string[]): Promise<ViewerPage> {
    const viewer = await this.open((name, page, context) => new ViewerPage(name, page, context, this.callTimeoutMs), 'viewer')
    await viewer.view(urls, producerIds)
    return viewer
  }

  /** Opens an empty page for data channels. */
  async openDataPage (): Promise<DataPage> {
    return await this.open((name, page, context) => new DataPage(name, page, context, this.callTimeoutMs), 'data')
  }

  /**
   * Resolves once every open track of the viewer has started (video: a decoded frame,
   * audio: a packet) and then grown over one window. On timeout saves a failure report of
   * the viewer and rejects with the last stats.
   */
  async waitForMediaFlowing (viewer: ViewerPage, options: WaitForMediaOptions = {}): Promise<MediaFlowReport> {
    const { timeoutMs = 15_000, windowMs = 1000, minFrames = 5, minPackets = 10 } = options
    const started = Date.now()
    const deadline = started + timeoutMs
    const count = (s: TrackStats): number => s.kind === 'video' ? s.framesDecoded ?? 0 : s.packetsReceived
    let last: TrackStats[] = []
    while (Date.now() < deadline) {
      const before = (await viewer.stats()).filter((s) => !s.closed)
      last = before
      if (before.length === 0 || !before.every((s) => count(s) > 0)) {
        await sleep(100)
        continue
      }
      await sleep(windowMs)
      const after = (await viewer.stats()).filter((s) => !s.closed)
      last = after
      const grown = before.every((b) => {
        const a = after.find((x) => x.consumerId === b.consumerId)
        return a !== undefined && count(a) - count(b) >= (b.kind === 'video' ? minFrames : minPackets)
      })
      if (grown) {
        const videos = after.filter((s) => s.kind === 'video')
        const frameGrowth = videos.map((a) => count(a) - count(before.find((b) => b.consumerId === a.consumerId) as TrackStats))
        return {
          elapsedMs: Date.now() - started,
          firstFrameMs: videos.length === 0 || videos.some((v) => v.firstFrameMs === undefined) ? undefined : Math.max(...videos.map((v) => v.firstFrameMs as number)),
          fps: videos.length === 0 ? 0 : Math.min(...frameGrowth) * 1000 / windowMs,
          stats: after
        }
      }
    }
    const report = await viewer.saveFailureReport(`media-not-flowing-${Date.now()}`).catch((err: Error) => `(no screenshot: ${err.message})`)
    throw new Error(`media not flowing to ${viewer.name} within ${timeoutMs} ms; last stats ${JSON.stringify(last)}; see ${report}`)
  }

  /** Saves a failure report (screenshot + page log) of every open page; for a failed test's afterEach. */
  async saveFailureReports (label: string): Promise<string[]> {
    const saved: string[] = []
    for (const page of this.pages) {
      if (page.page.isClosed()) continue
      saved.push(await page.saveFailureReport(label).catch((err: Error) => `${page.name}: ${err.message}`))
    }
    return saved
  }

  /** Closes every page, the browser and the page server. */
  async close (): Promise<void> {
    await this.browser.close()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private async open<P extends HarnessPage> (make: (name: string, page: Page, context: BrowserContext) => P, role: string): Promise<P> {
    const context = await this.browser.newContext()
    const page = await context.newPage()
    const harnessPage = make(`${role}${++this.count}`, page, context)
    this.pages.push(harnessPage)
    await page.goto(this.pageUrl)
    await page.waitForFunction(() => (globalThis as { swarmTest?: unknown }).swarmTest !== undefined)
    return harnessPage
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
