// One node, two real browser pages: proves the offline-built worker completes DTLS with
// Chromium (a mediasoup-level test cannot: only a real DTLS peer exercises it) and that
// audio and video flow publisher → worker → viewer.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createClientSignalling } from '../../src/signalling/index.js'
import type { ClientSignalling } from '../../src/signalling/index.js'
import { BrowserHarness } from './harness.js'

const mediaCodecs: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }
]

describe('browser smoke: one worker, a publisher page and a viewer page', function () {
  this.timeout(45_000)
  let worker: ms.Worker
  let webRtcServer: ms.WebRtcServer
  let router: ms.Router
  let server: http.Server
  let signalling: ClientSignalling
  let tcpSignalling: ClientSignalling
  let harness: BrowserHarness
  let wsUrl: string
  let tcpWsUrl: string
  const transports: ms.Transport[] = []

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' })
    webRtcServer = await worker.createWebRtcServer({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }]
    })
    router = await worker.createRouter({ mediaCodecs })
    router.observer.on('newtransport', (t) => transports.push(t))
    server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    signalling = createClientSignalling({ server, path: '/signalling', router, webRtcServer })
    // Same router, transports of their own listening on TCP only: the TCP path of ICE/DTLS.
    tcpSignalling = createClientSignalling({ server, path: '/signalling-tcp', router, listenInfos: [{ protocol: 'tcp', ip: '127.0.0.1' }] })
    const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
    wsUrl = `${base}/signalling`
    tcpWsUrl = `${base}/signalling-tcp`
    harness = await BrowserHarness.start()
  })

  beforeEach(() => { transports.length = 0 })
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
    }
  })

  after(async () => {
    await harness?.close()
    // Transports before the WebRtcServer: mediasoup 3.13 aborts the worker otherwise.
    signalling?.close()
    tcpSignalling?.close()
    webRtcServer?.close()
    worker?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
  })

  /** Publishes, views, waits for media; returns the measured numbers for the log line. */
  async function publishAndView (url: string): Promise<{ line: string, iceProtocol: string | undefined }> {
    const started = Date.now()
    const publisher = await harness.openPublisher(url)
    assert.equal(publisher.producerIds.length, 2, 'publisher did not produce audio and video')
    const published = Date.now()

    const viewer = await harness.openViewer(url, publisher.producerIds)
    const report = await harness.waitForMediaFlowing(viewer)
    const video = report.stats.find((s) => s.kind === 'video')
    const audio = report.stats.find((s) => s.kind === 'audio')
    assert.ok(video !== undefined && (video.framesDecoded ?? 0) > 0)
    assert.ok(audio !== undefined && audio.packetsReceived > 0)
    assert.equal(video.producerId, publisher.published.video)
    assert.equal(audio.producerId, publisher.published.audio)

    assert.equal(transports.length, 2, 'one send and one recv transport')
    for (const t of transports as ms.WebRtcTransport[]) {
      assert.equal(t.dtlsState, 'connected')
      assert.equal(t.iceState === 'connected' || t.iceState === 'completed', true, `ice ${t.iceState}`)
    }
    const iceProtocol = (transports[0] as ms.WebRtcTransport).iceSelectedTuple?.protocol
    await publisher.close()
    await viewer.close()
    const line = `handler ${publisher.published.handlerName}; publish ${published - started} ms; ` +
      `first frame ${report.firstFrameMs?.toFixed(0)} ms after view(); flowing ${report.elapsedMs} ms after view() returned; ` +
      `${report.fps} fps; video ${video.frameWidth}x${video.frameHeight}, ${video.framesDecoded} frames, audio ${audio.packetsReceived} packets; ` +
      `ICE over ${iceProtocol}`
    return { line, iceProtocol }
  }

  it('the viewer decodes the publisher\'s fake camera and receives its microphone (WebRtcServer, UDP preferred)', async () => {
    const { line, iceProtocol } = await publishAndView(wsUrl)
    console.log(`      ${line}`)
    assert.equal(iceProtocol, 'udp')
  })

  it('media also flows over ICE-TCP, with transports on their own ports', async () => {
    const { line, iceProtocol } = await publishAndView(tcpWsUrl)
    console.log(`      ${line}`)
    assert.equal(iceProtocol, 'tcp')
  })
})
