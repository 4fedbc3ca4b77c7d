import assert from 'node:assert/strict'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createPipeTransport, endpointOf } from '../../src/media/pipe-transport.js'
import { connectPipePair, createRtpSink, createRtpSource, LOOPBACK_PIPE, lossReport, mediaCodecs, sleep, waitFor } from '../harness/index.js'
import type { MediaKind, PipePair, PipedProducer, RtpSink, RtpSource } from '../harness/index.js'

const RTC_MIN_PORT = 40000
const RTC_MAX_PORT = 49999
const PACKETS_PER_SECOND = 100
const MEASURE_MS = 2000
const MIN_DELIVERY_PERCENT = 99

// The pipe ends of src/media/pipe-transport.ts, as two nodes make and join them:
// createPipeTransport() on each side, each end connected to endpointOf() the other.
describe('pipe transports (createPipeTransport, endpointOf) between routers of two workers: SRTP, RTX', function () {
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

  /** An end on each router (createPipeTransport), joined through endpointOf() (connectPipePair). */
  async function pipeBetween (): Promise<PipePair> {
    return await connectPipePair(await createPipeTransport(origin, LOOPBACK_PIPE), await createPipeTransport(target, LOOPBACK_PIPE))
  }

  interface Path { pair: PipePair, source: RtpSource, piped: PipedProducer, sink: RtpSink }

  /** A source on the origin router, piped to the target router, consumed there by a sink. */
  async function openPath (kind: MediaKind, keyFrameEvery?: number): Promise<Path> {
    const pair = await pipeBetween()
    const source = await createRtpSource({ router: origin, kind, packetsPerSecond: PACKETS_PER_SECOND, keyFrameEvery })
    const piped = await pair.pipeProducer(source.producer.id)
    const sink = await createRtpSink({ router: target, producerId: piped.pipeProducer.id })
    await sink.waitForPackets(20, { timeoutMs: 3000 })
    return { pair, source, piped, sink }
  }

  it("gives an end's id, address and SRTP key in its endpoint (SRTP on: every end has a key of its own)", async () => {
    const [one, other] = [await createPipeTransport(origin, LOOPBACK_PIPE), await createPipeTransport(target, LOOPBACK_PIPE)]
    const endpoint = endpointOf(one)
    assert.equal(endpoint.pipeId, one.id)
    assert.equal(endpoint.ip, '127.0.0.1')
    assert.equal(endpoint.port, one.tuple.localPort)
    assert.ok(endpoint.port > 0)
    assert.deepEqual(endpoint.srtpParameters, one.srtpParameters)
    assert.equal(typeof endpoint.srtpParameters.cryptoSuite, 'string')
    assert.ok(endpoint.srtpParameters.keyBase64.length > 0)
    assert.notEqual(endpointOf(other).srtpParameters.keyBase64, endpoint.srtpParameters.keyBase64)
  })

  it('gives the announced IP in the endpoint when it differs from the listen IP', async () => {
    const transport = await createPipeTransport(origin, { ip: '127.0.0.1', announcedIp: '127.0.0.2' })
    assert.equal(endpointOf(transport).ip, '127.0.0.2')
    assert.equal(endpointOf(transport).port, transport.tuple.localPort)
  })

  it('connects each end to the endpoint of the other', async () => {
    const { originTransport, targetTransport } = await pipeBetween()
    assert.equal(originTransport.tuple.remoteIp, endpointOf(targetTransport).ip)
    assert.equal(originTransport.tuple.remotePort, endpointOf(targetTransport).port)
    assert.equal(targetTransport.tuple.remoteIp, endpointOf(originTransport).ip)
    assert.equal(targetTransport.tuple.remotePort, endpointOf(originTransport).port)
  })

  it("delivers nothing to an end connected with another key than the sender's (the media is encrypted)", async () => {
    const [originEnd, targetEnd] = [await createPipeTransport(origin, LOOPBACK_PIPE), await createPipeTransport(target, LOOPBACK_PIPE)]
    // A valid key, but not the one the origin end encrypts with.
    const { srtpParameters: otherKey } = endpointOf(await createPipeTransport(target, LOOPBACK_PIPE))
    const toTarget = endpointOf(targetEnd)
    const toOrigin = endpointOf(originEnd)
    await Promise.all([
      originEnd.connect({ ip: toTarget.ip, port: toTarget.port, srtpParameters: toTarget.srtpParameters }),
      targetEnd.connect({ ip: toOrigin.ip, port: toOrigin.port, srtpParameters: otherKey })
    ])
    const source = await createRtpSource({ router: origin, kind: 'audio', packetsPerSecond: PACKETS_PER_SECOND })
    const pipeConsumer = await originEnd.consume({ producerId: source.producer.id })
    const pipeProducer = await targetEnd.produce({ id: source.producer.id, kind: pipeConsumer.kind, rtpParameters: pipeConsumer.rtpParameters })
    const sink = await createRtpSink({ router: target, producerId: pipeProducer.id })
    await waitFor(() => source.sent >= 50, { what: '50 packets sent', timeoutMs: 3000 })
    await sleep(300)
    assert.equal(sink.packets, 0)
    // The packets did reach the target end, which could not decrypt them: none counted as RTP.
    const [stats] = await targetEnd.getStats()
    assert.ok(stats !== undefined && stats.bytesReceived > 0, 'bytes reached the target end')
    assert.equal(stats.rtpBytesReceived, 0)
  })

  it('re-creates the producer in the target router with the same id and kind, and RTX for video', async () => {
    const pair = await pipeBetween()
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
