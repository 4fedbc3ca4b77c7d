import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { EventEmitter, once } from 'node:events'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import {
  countKeyFrameRequests,
  createPipePair,
  createRtpSink,
  createRtpSource,
  formatTable,
  HarnessTimeoutError,
  isRtcp,
  latencyStats,
  lossReport,
  mediaCodecs,
  percentile,
  readRtpHeader,
  sequenceDelta,
  sleep,
  waitFor,
  waitForEvent,
  writeRtpPacket
} from './index.js'
import type { RtpSourceOptions } from './index.js'

const RTC_MIN_PORT = 40000
const RTC_MAX_PORT = 49999

describe('test harness', function () {
  this.timeout(10_000)
  let worker: ms.Worker
  let router: ms.Router

  beforeEach(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: RTC_MIN_PORT, rtcMaxPort: RTC_MAX_PORT })
    router = await worker.createRouter({ mediaCodecs })
  })
  afterEach(() => worker.close())

  describe('createRtpSource()', () => {
    const invalid: Array<[string, (router: ms.Router) => unknown]> = [
      ['no options', () => undefined],
      ['a missing router', () => ({ kind: 'audio' })],
      ['something else as router', () => ({ router: {}, kind: 'audio' })],
      ['an unknown kind', (router) => ({ router, kind: 'data' })],
      ['a rate of 0', (router) => ({ router, kind: 'audio', packetsPerSecond: 0 })],
      ['a negative rate', (router) => ({ router, kind: 'audio', packetsPerSecond: -5 })],
      ['a NaN rate', (router) => ({ router, kind: 'audio', packetsPerSecond: NaN })],
      ['an infinite rate', (router) => ({ router, kind: 'video', packetsPerSecond: Infinity })],
      ['ssrc 0', (router) => ({ router, kind: 'audio', ssrc: 0 })],
      ['a negative ssrc', (router) => ({ router, kind: 'audio', ssrc: -1 })],
      ['a fractional ssrc', (router) => ({ router, kind: 'audio', ssrc: 1.5 })],
      ['an ssrc above 32 bits', (router) => ({ router, kind: 'audio', ssrc: 2 ** 32 })],
      ['a string ssrc', (router) => ({ router, kind: 'audio', ssrc: '1234' })],
      ['keyFrameEvery 0', (router) => ({ router, kind: 'video', keyFrameEvery: 0 })],
      ['an empty producerId', (router) => ({ router, kind: 'video', producerId: '' })],
      ['appData that is not an object', (router) => ({ router, kind: 'video', appData: 'x' })]
    ]
    for (const [what, options] of invalid) {
      it(`rejects ${what} with TypeError`, async () => {
        await assert.rejects(createRtpSource(options(router) as RtpSourceOptions), TypeError)
      })
    }

    it('leaves no transport behind when the producer cannot be created', async () => {
      const first = await createRtpSource({ router, kind: 'audio', autoStart: false })
      await assert.rejects(createRtpSource({ router, kind: 'audio', producerId: first.producer.id }))
      const dump = await router.dump()
      assert.deepEqual(dump.transportIds, [first.transport.id])
      first.close()
    })

    it('sends at the configured rate', async () => {
      const source = await createRtpSource({ router, kind: 'audio', packetsPerSecond: 200 })
      await sleep(1000)
      source.stop()
      assert.ok(source.sent >= 180 && source.sent <= 210, `sent ${source.sent} packets in 1 s at 200/s`)
      source.close()
    })

    it('keeps the sequence going across stop() and start(), and refuses start() once closed', async () => {
      const source = await createRtpSource({ router, kind: 'audio', packetsPerSecond: 100 })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      await sink.waitForPackets(10)
      source.stop()
      await sleep(200)
      source.start()
      await sink.waitForPackets(sink.packets + 10)
      source.close()
      source.close()
      assert.throws(() => source.start(), mediasoup.types.InvalidStateError)
      assert.equal(sink.stats().lost, 0)
    })

    it('sends VP8 key frames mediasoup recognises, so a new video consumer gets media', async () => {
      const source = await createRtpSource({ router, kind: 'video', packetsPerSecond: 100, keyFrameEvery: 1000 })
      await sleep(100) // past the first (periodic) key frame: only a requested one can open the consumer
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      await sink.waitForPackets(10, { timeoutMs: 3000 })
      assert.ok(source.keyFrameRequests >= 1)
      assert.equal(sink.stats().wrongPayloadType, 0)
    })

    it('closes itself when its router closes', async () => {
      const source = await createRtpSource({ router, kind: 'audio' })
      router.close()
      assert.equal(source.transport.closed, true)
      assert.throws(() => source.start(), mediasoup.types.InvalidStateError)
    })
  })

  describe('createRtpSink()', () => {
    it('rejects a missing router or producerId with TypeError, and an unknown producer without leaving a transport', async () => {
      await assert.rejects(createRtpSink({ producerId: 'x' } as never), TypeError)
      await assert.rejects(createRtpSink({ router } as never), TypeError)
      await assert.rejects(createRtpSink({ router, producerId: 'no-such-producer' }))
      assert.deepEqual((await router.dump()).transportIds, [])
    })

    it('fails waitForPackets() with HarnessTimeoutError saying how far it got', async () => {
      const source = await createRtpSource({ router, kind: 'audio', autoStart: false })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      await assert.rejects(sink.waitForPackets(5, { timeoutMs: 200 }), (err: unknown) => {
        assert.ok(err instanceof HarnessTimeoutError)
        assert.equal(err.name, 'HarnessTimeoutError')
        assert.equal(err.timeoutMs, 200)
        assert.equal(err.progress, '0 of 5 packets')
        return true
      })
    })

    it('fails waitForSilence() with HarnessTimeoutError while media flows', async () => {
      const source = await createRtpSource({ router, kind: 'audio', packetsPerSecond: 100 })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      await sink.waitForPackets(1)
      await assert.rejects(sink.waitForSilence(100, { timeoutMs: 300 }), HarnessTimeoutError)
      source.stop()
      await sink.waitForSilence(100)
    })

    it('counts loss, reordering, sequence wrap and wrong payload types, and ignores RTCP', async () => {
      const source = await createRtpSource({ router, kind: 'audio', autoStart: false })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      const pt = sink.consumer.rtpParameters.codecs[0]!.payloadType
      const sender = dgram.createSocket('udp4')
      sender.bind(0, '127.0.0.1')
      await once(sender, 'listening')
      const send = (sequenceNumber: number, payloadType = pt): void => {
        sender.send(writeRtpPacket({ marker: false, payloadType, sequenceNumber, timestamp: 0, ssrc: 0x5eed }, Buffer.alloc(20)), sink.transport.tuple.remotePort!, '127.0.0.1')
      }
      // 65534, 65535, 0 (wrap), 2 (1 missing), 1 (late), 3 with a foreign payload type, then an RTCP receiver report
      for (const seq of [65534, 65535, 0, 2, 1]) send(seq)
      send(3, 0)
      sender.send(Buffer.from([0x80, 201, 0, 1, 0, 0, 4, 0xd2]), sink.transport.tuple.remotePort!, '127.0.0.1')
      await sink.waitForPackets(6)
      await sleep(50)
      sender.close()
      const stats = sink.stats()
      assert.equal(stats.packets, 6)
      assert.equal(stats.lost, 0)
      assert.equal(stats.outOfOrder, 1)
      assert.equal(stats.wrongPayloadType, 1)
      assert.equal(stats.ssrcs.get(0x5eed)?.packets, 6)
      assert.equal(sink.arrivals.length, 6)
      sink.reset()
      assert.equal(sink.stats().packets, 0)
      assert.equal(sink.stats().firstArrival, undefined)
    })

    it('measures one-way latency of packets from createRtpSource()', async () => {
      const source = await createRtpSource({ router, kind: 'audio', packetsPerSecond: 100 })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      await sink.waitForPackets(20)
      assert.equal(sink.latencies.length, sink.packets)
      const { min, p95 } = latencyStats(sink.latencies)
      assert.ok(min >= 0 && p95 < 100, `latency min ${min} ms, p95 ${p95} ms`)
    })
  })

  describe('createPipePair()', () => {
    it('rejects a missing router and the same router twice with TypeError', async () => {
      await assert.rejects(createPipePair(router, undefined as never), TypeError)
      await assert.rejects(createPipePair(router, router), TypeError)
    })
  })

  describe('rtp-packet', () => {
    it('writes and reads the fixed RTP header, wrapping the sequence number at 16 bits', () => {
      const packet = writeRtpPacket({ marker: true, payloadType: 101, sequenceNumber: 0x10001, timestamp: 2 ** 32 + 7, ssrc: 0xfffffffe }, Buffer.from([1, 2, 3]))
      assert.equal(packet.length, 15)
      assert.equal(packet[0], 0x80)
      assert.deepEqual(readRtpHeader(packet), { marker: true, payloadType: 101, sequenceNumber: 1, timestamp: 7, ssrc: 0xfffffffe })
    })

    it('tells RTCP from RTP and counts PLI and FIR in a compound packet', () => {
      const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1])
      const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2])
      const fir = Buffer.from([0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0])
      const nack = Buffer.from([0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0])
      assert.equal(isRtcp(rr), true)
      assert.equal(isRtcp(writeRtpPacket({ marker: true, payloadType: 100, sequenceNumber: 0, timestamp: 0, ssrc: 1 }, Buffer.alloc(0))), false)
      assert.equal(readRtpHeader(rr), undefined)
      assert.equal(countKeyFrameRequests(Buffer.concat([rr, pli, nack, fir])), 2)
      assert.equal(countKeyFrameRequests(nack), 0)
    })

    it('measures sequence distance across the wrap', () => {
      assert.equal(sequenceDelta(65535, 0), 1)
      assert.equal(sequenceDelta(0, 65535), -1)
      assert.equal(sequenceDelta(10, 10), 0)
    })
  })

  describe('waits', () => {
    it('waitFor() resolves once the predicate holds', async () => {
      let calls = 0
      await waitFor(() => ++calls === 3, { intervalMs: 1 })
      assert.equal(calls, 3)
    })

    it('waitFor() fails with HarnessTimeoutError naming what it waited for and how far it got', async () => {
      await assert.rejects(waitFor(() => false, { timeoutMs: 50, what: 'the moon', progress: () => 'half way' }), (err: unknown) => {
        assert.ok(err instanceof HarnessTimeoutError)
        assert.equal(err.what, 'the moon')
        assert.equal(err.progress, 'half way')
        return true
      })
    })

    it('waitFor() passes on what the predicate throws', async () => {
      await assert.rejects(waitFor(() => { throw new RangeError('broken') }), RangeError)
    })

    it('waitForEvent() resolves with the event arguments or fails with HarnessTimeoutError', async () => {
      const emitter = new EventEmitter()
      setTimeout(() => emitter.emit('ready', 1, 'two'), 10)
      assert.deepEqual(await waitForEvent(emitter, 'ready'), [1, 'two'])
      await assert.rejects(waitForEvent(emitter, 'ready', 50), HarnessTimeoutError)
    })

    const badWaits: Array<[string, () => Promise<unknown>]> = [
      ['waitFor() without a predicate', async () => await waitFor(undefined as never)],
      ['waitFor() with a negative timeout', async () => await waitFor(() => true, { timeoutMs: -1 })],
      ['waitFor() with a NaN interval', async () => await waitFor(() => true, { intervalMs: NaN })],
      ['waitForEvent() with an infinite timeout', async () => await waitForEvent(new EventEmitter(), 'x', Infinity)],
      ['sleep() with a negative time', async () => await sleep(-1)]
    ]
    for (const [what, call] of badWaits) {
      it(`rejects ${what} with TypeError`, async () => { await assert.rejects(call(), TypeError) })
    }
  })

  describe('report', () => {
    it('lossReport() gives lost packets and percentages', () => {
      assert.deepEqual(lossReport(200, 198), { sent: 200, received: 198, lost: 2, lossPercent: 1, deliveryPercent: 99 })
      assert.equal(lossReport(10, 11).lost, 0)
      assert.ok(Number.isNaN(lossReport(0, 0).deliveryPercent))
    })

    it('percentile() interpolates between ranks and latencyStats() summarises', () => {
      const samples = [5, 1, 4, 2, 3]
      assert.equal(percentile(samples, 50), 3)
      assert.equal(percentile(samples, 25), 2)
      assertClose(percentile(samples, 90), 4.6)
      assert.deepEqual(samples, [5, 1, 4, 2, 3])
      const stats = latencyStats(samples)
      assert.deepEqual({ ...stats, p95: 0, p99: 0 }, { count: 5, min: 1, max: 5, mean: 3, p50: 3, p95: 0, p99: 0 })
      assertClose(stats.p95, 4.8)
      assertClose(stats.p99, 4.96)
      assert.equal(latencyStats([]).count, 0)
      assert.ok(Number.isNaN(latencyStats([]).p50))
    })

    it('formatTable() aligns columns, numbers to the right', () => {
      assert.equal(formatTable([{ kind: 'audio', sent: 100, loss: 0.25 }, { kind: 'video', sent: 2000, loss: 0 }]), [
        'kind   sent  loss',
        '-----  ----  ----',
        'audio   100   0.3',
        'video  2000     0'
      ].join('\n'))
    })

    const badReports: Array<[string, () => unknown]> = [
      ['lossReport() with a negative count', () => lossReport(-1, 0)],
      ['lossReport() with a fractional count', () => lossReport(10, 2.5)],
      ['percentile() above 100', () => percentile([1], 101)],
      ['percentile() with NaN p', () => percentile([1], NaN)],
      ['latencyStats() with NaN samples', () => latencyStats([1, NaN])]
    ]
    for (const [what, call] of badReports) {
      it(`rejects ${what} with TypeError`, () => { assert.throws(call, TypeError) })
    }
  })
})

function assertClose (actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`)
}
