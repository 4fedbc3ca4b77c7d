import assert from 'node:assert/strict'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createPipePair, createRtpSink, createRtpSource, lossReport, mediaCodecs, sleep, waitFor } from '../harness/index.js'
import type { MediaKind, PipePair, PipedProducer, RtpSink, RtpSource } from '../harness/index.js'

const RTC_MIN_PORT = 40000
const RTC_MAX_PORT = 49999
const PACKETS_PER_SECOND = 100
const MEASURE_MS = 2000
const MIN_DELIVERY_PERCENT = 99

describe('PipeTransport pair between routers of two workers (SRTP, RTX)', function () {
  this.timeout(20_000)
  let workers: ms.Worker[] = []
  let origin: ms.Router
  let target: ms.Router

  beforeEach(async () => {
    workers = await Promise.all([0, 1].map(async () => await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: RTC_MIN_PORT, rtcMaxPort: RTC_MAX_PORT })))
    origin = await workers[0]!.createRouter({ mediaCodecs })
    target = await workers[1]!.createRouter({ mediaCodecs })
  })
  afterEach(() => {
    for (const worker of workers) worker.close()
  })

  interface Path { pair: PipePair, source: RtpSource, piped: PipedProducer, sink: RtpSink }

  /** A source on the origin router, piped to the target router, consumed there by a sink. */
  async function openPath (kind: MediaKind, keyFrameEvery?: number): Promise<Path> {
    const pair = await createPipePair(origin, target)
    const source = await createRtpSource({ router: origin, kind, packetsPerSecond: PACKETS_PER_SECOND, keyFrameEvery })
    const piped = await pair.pipeProducer(source.producer.id)
    const sink = await createRtpSink({ router: target, producerId: piped.pipeProducer.id })
    await sink.waitForPackets(20, { timeoutMs: 3000 })
    return { pair, source, piped, sink }
  }

  it('connects each end to the other with its SRTP key', async () => {
    const { originTransport, targetTransport } = await createPipePair(origin, target)
    assert.equal(originTransport.tuple.remotePort, targetTransport.tuple.localPort)
    assert.equal(targetTransport.tuple.remotePort, originTransport.tuple.localPort)
    assert.equal(typeof originTransport.srtpParameters?.keyBase64, 'string')
    assert.equal(typeof targetTransport.srtpParameters?.keyBase64, 'string')
  })

  it('re-creates the producer in the target router with the same id and kind, and RTX for video', async () => {
    const pair = await createPipePair(origin, target)
    const source = await createRtpSource({ router: origin, kind: 'video', appData: { label: 'camera' } })
    const { pipeProducer } = await pair.pipeProducer(source.producer.id)
    assert.equal(pipeProducer.id, source.producer.id)
    assert.equal(pipeProducer.kind, 'video')
    assert.ok(pipeProducer.rtpParameters.codecs.some((codec) => codec.mimeType.toLowerCase() === 'video/rtx'))
  })

  for (const kind of ['audio', 'video'] as const) {
    it(`delivers ≥ ${MIN_DELIVERY_PERCENT} % of ${kind} packets sent after set-up to a sink in the target router`, async () => {
      const { source, sink } = await openPath(kind)
      // Count over a window with nothing in flight at either end, so sent and received match exactly.
      source.stop()
      await sink.waitForSilence(200)
      sink.reset()
      const sentBefore = source.sent
      source.start()
      await sleep(MEASURE_MS)
      source.stop()
      await sink.waitForSilence(200)
      const report = lossReport(source.sent - sentBefore, sink.packets)
      console.log(`      ${kind}: ${report.received} of ${report.sent} packets delivered (${report.deliveryPercent.toFixed(1)} %)`)
      assert.ok(report.sent >= MEASURE_MS / 1000 * PACKETS_PER_SECOND * 0.9, `source sent only ${report.sent} packets`)
      assert.ok(report.deliveryPercent >= MIN_DELIVERY_PERCENT, `delivered ${report.deliveryPercent.toFixed(1)} %`)
      const stats = sink.stats()
      assert.equal(stats.wrongPayloadType, 0)
      assert.equal(stats.ssrcs.size, 1)
    })

    it(`stops ${kind} at the sink while the origin producer is paused, and restarts it on resume`, async () => {
      const { source, piped, sink } = await openPath(kind)
      await source.producer.pause()
      await waitFor(() => piped.pipeProducer.paused && sink.consumer.producerPaused, { timeoutMs: 2000, what: 'pause to reach the target' })
      await sink.waitForSilence(200)
      const atPause = sink.packets
      await sleep(500)
      assert.equal(sink.packets, atPause, 'packets kept arriving while paused')
      await source.producer.resume()
      await sink.waitForPackets(atPause + 20, { timeoutMs: 3000 })
      assert.equal(piped.pipeProducer.paused, false)
    })
  }

  it("carries a key frame request from the sink's consumer to the source (PLI)", async () => {
    // Key frames only on request, so nothing but the PLI path can make the count grow.
    const { source, sink } = await openPath('video', 1_000_000)
    const before = source.keyFrameRequests
    await sink.requestKeyFrame()
    await waitFor(() => source.keyFrameRequests > before, { timeoutMs: 3000, what: 'PLI/FIR at the source', progress: () => `${source.keyFrameRequests} requests` })
  })

  it('closes the copy and its consumer when the origin producer closes', async () => {
    const { source, piped, sink } = await openPath('audio')
    const producerClosed = new Promise<void>((resolve) => sink.consumer.once('producerclose', resolve))
    source.producer.close()
    await producerClosed
    assert.equal(piped.pipeProducer.closed, true)
    assert.equal(piped.pipeConsumer.closed, true)
  })

  it('closes both ends when one end closes', async () => {
    const { pair, piped, sink } = await openPath('audio')
    pair.targetTransport.close()
    assert.equal(pair.originTransport.closed, true)
    assert.equal(piped.pipeConsumer.closed, true)
    await waitFor(() => sink.consumer.closed, { timeoutMs: 2000, what: "the target's consumer to close" })
  })
})
