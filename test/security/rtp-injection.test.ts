// RTP/RTCP injection into a cross-node pipe. Pipes are SRTP-protected (enableSrtp, keys
// only over the authenticated libp2p session), so packets forged by someone who can reach
// a pipe's UDP port, even from the peer's own address and port, must change nothing
// downstream. A control pipe without SRTP, fed the same forged packets, shows that they
// do reach mediasoup's forwarding: what stops them is SRTP.
import assert from 'node:assert/strict'
import { randomBytes, randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import { once } from 'node:events'
import * as mediasoup from 'mediasoup'
import { createRtpSink, createRtpSource, sleep, waitFor, writeRtpPacket } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { createRtpSpoofer } from './rtp-spoofer.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSink, RtpSource } from '../harness/index.js'
import type { Address, RtpSpoofer } from './rtp-spoofer.js'
import type { types as ms } from 'mediasoup'

const SPOOFED_RTP = 10_000
const OTHER_PORT_RTP = 10_000
const JUNK = 10_000
const BYES = 1000
const PLIS = 1000
/** Datagrams sent between two yields: the real stream shares the worker's socket buffer. */
const BATCH = 50

/** Every PipeTransport the workers of this process make, with what goes through it. */
class PipeWatch {
  readonly workers: ms.Worker[] = []
  private readonly byProducer = new Map<string, ms.PipeTransport>()
  private readonly byConsumedProducer = new Map<string, { transport: ms.PipeTransport, consumer: ms.Consumer }>()
  private readonly onWorker = (worker: ms.Worker): void => {
    this.workers.push(worker)
    worker.observer.on('newrouter', (router) => router.observer.on('newtransport', (transport) => {
      if (!(transport instanceof mediasoup.types.PipeTransport)) return
      transport.observer.on('newproducer', (producer) => this.byProducer.set(producer.id, transport))
      transport.observer.on('newconsumer', (consumer) => this.byConsumedProducer.set(consumer.producerId, { transport, consumer }))
    }))
  }

  constructor () { mediasoup.observer.on('newworker', this.onWorker) }
  /** The pipe a copy of `producerId` arrives on. */
  receiving (producerId: string): ms.PipeTransport | undefined { return this.byProducer.get(producerId) }
  /** The pipe `producerId` is sent on. */
  sending (producerId: string): ms.PipeTransport | undefined { return this.byConsumedProducer.get(producerId)?.transport }
  /** The consumer that sends `producerId` on a pipe: the SSRC and payload type on the wire are its own. */
  pipeConsumer (producerId: string): ms.Consumer | undefined { return this.byConsumedProducer.get(producerId)?.consumer }
  close (): void { mediasoup.observer.off('newworker', this.onWorker) }
}

const local = (t: ms.PipeTransport): Address => ({ ip: t.tuple.localIp, port: t.tuple.localPort })
const remote = (t: ms.PipeTransport): Address => ({ ip: t.tuple.remoteIp!, port: t.tuple.remotePort! })

function rtcpBye (ssrc: number): Buffer {
  const b = Buffer.alloc(8)
  b[0] = 0x81 // V=2, one source
  b[1] = 203
  b.writeUInt16BE(1, 2)
  b.writeUInt32BE(ssrc >>> 0, 4)
  return b
}

function rtcpPli (senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12)
  b[0] = 0x81 // V=2, FMT 1 (PLI)
  b[1] = 206
  b.writeUInt16BE(2, 2)
  b.writeUInt32BE(senderSsrc >>> 0, 4)
  b.writeUInt32BE(mediaSsrc >>> 0, 8)
  return b
}

/**
 * RTP with the stream's SSRC and payload type and garbage after a VP8 payload descriptor
 * (without one, a consumer would drop it for that reason alone, and the control would prove nothing).
 */
function forgedRtp (ssrc: number, payloadType: number, sequenceNumber: number): Buffer {
  const payload = Buffer.concat([Buffer.from([0x90, 0x80, randomInt(0x80)]), randomBytes(randomInt(1, 900))])
  return writeRtpPacket({ marker: true, payloadType, sequenceNumber, timestamp: randomInt(2 ** 32), ssrc }, payload)
}

/** What the sink saw that the real source did not send: other SSRCs, unstamped packets. */
function foreignAtSink (sink: RtpSink): { ssrcs: number, unstamped: number } {
  return { ssrcs: sink.stats().ssrcs.size, unstamped: sink.packets - sink.latencies.length }
}

describe('RTP/RTCP injection into a pipe between two nodes', function () {
  this.timeout(90_000)
  let watch: PipeWatch
  let nodes: SwarmNode[] = []
  let source: RtpSource
  let sink: RtpSink
  let spoofer: RtpSpoofer
  let udp: dgram.Socket

  before(async () => {
    watch = new PipeWatch()
    spoofer = await createRtpSpoofer()
    udp = dgram.createSocket('udp4')
    udp.bind(0, '127.0.0.1')
    await once(udp, 'listening')
  })

  after(() => {
    spoofer?.close()
    udp?.close()
    watch?.close()
  })

  beforeEach(async () => {
    nodes = await startChain(2)
    await waitConnected(nodes)
    const [origin, member] = nodes as [SwarmNode, SwarmNode]
    source = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 100 })
    const router = await member.createRouter({ mediaCodecs })
    await member.pipeToRouter({ producerId: source.producer.id, router })
    sink = await createRtpSink({ router, producerId: source.producer.id })
    await sink.waitForPackets(20, { timeoutMs: 10_000 })
  })

  afterEach(async () => {
    sink?.close()
    source?.close()
    await stopAll(nodes)
  })

  /** Sends `count` datagrams made by `make`, a batch at a time. */
  async function inject (count: number, send: (i: number) => void): Promise<void> {
    for (let i = 0; i < count; i++) {
      send(i)
      if (i % BATCH === BATCH - 1) {
        await spoofer.flush()
        await sleep(5)
      }
    }
    await spoofer.flush()
  }

  it('both ends of a pipe between nodes are SRTP-protected, with one key each way', () => {
    const receiving = watch.receiving(source.producer.id)
    const sending = watch.sending(source.producer.id)
    assert.ok(receiving !== undefined && sending !== undefined, 'the pipe transports were not seen')
    assert.ok(receiving.srtpParameters !== undefined && sending.srtpParameters !== undefined, 'a pipe end without SRTP')
    assert.notEqual(receiving.srtpParameters.keyBase64, sending.srtpParameters.keyBase64)
    assert.deepEqual(remote(receiving), local(sending))
  })

  it(`${SPOOFED_RTP} forged RTP (right SSRC, garbage), ${OTHER_PORT_RTP} from other ports, ${BYES} RTCP BYE, ${PLIS} PLI and ${JUNK} junk datagrams change nothing at the downstream sink; the workers survive`, async () => {
    const receiving = watch.receiving(source.producer.id)!
    const sending = watch.sending(source.producer.id)!
    const onPipe = watch.pipeConsumer(source.producer.id)?.rtpParameters
    const ssrc = onPipe?.encodings?.[0]?.ssrc
    const payloadType = onPipe?.codecs[0]?.payloadType
    assert.ok(ssrc !== undefined && payloadType !== undefined, 'the SSRC on the pipe was not found')

    const spoofedBefore = await spoofer.flush()
    sink.reset()
    const sentBefore = source.sent
    const requestsBefore = source.keyFrameRequests

    // Forged as coming from the origin's pipe end, the only address the receiving end takes media from.
    await inject(SPOOFED_RTP, (i) => spoofer.send(local(sending), local(receiving), forgedRtp(ssrc, payloadType, i % 2 === 0 ? i : randomInt(0x10000))))
    await inject(OTHER_PORT_RTP, (i) => udp.send(forgedRtp(ssrc, payloadType, i), local(receiving).port, local(receiving).ip))
    await inject(BYES, () => spoofer.send(local(sending), local(receiving), rtcpBye(ssrc)))
    // PLI toward the origin's end, as if from the receiving end: each would reach the source as a key frame request.
    await inject(PLIS, () => spoofer.send(local(receiving), local(sending), rtcpPli(randomInt(2 ** 32), ssrc)))
    await inject(JUNK, (i) => spoofer.send(i % 2 === 0 ? local(sending) : local(receiving), i % 2 === 0 ? local(receiving) : local(sending), randomBytes(randomInt(1, 1200))))
    const sentAfter = source.sent
    assert.equal(await spoofer.flush() - spoofedBefore, SPOOFED_RTP + BYES + PLIS + JUNK, 'forged datagrams not all sent')
    await sleep(500)

    assert.deepEqual(foreignAtSink(sink), { ssrcs: 1, unstamped: 0 }, 'a forged packet reached the sink')
    const stats = sink.stats()
    assert.equal(stats.lost, 0, 'sequence numbers at the sink skipped')
    assert.equal(stats.outOfOrder, 0)
    assert.equal(stats.wrongPayloadType, 0)
    // Every packet the source sent in the meantime, and no other.
    const sent = sentAfter - sentBefore
    assert.ok(sink.packets >= sent - 5 && sink.packets <= source.sent - sentBefore, `sink ${sink.packets}, source sent ${sent}`)
    // The sink's own key frame requests are none here; a handful may come from mediasoup's own recovery.
    assert.ok(source.keyFrameRequests - requestsBefore <= 3, `${source.keyFrameRequests - requestsBefore} key frame requests reached the source`)
    for (const worker of watch.workers.filter((w) => !w.closed)) assert.equal(worker.died, false)
    const before = sink.packets
    await waitFor(() => sink.packets >= before + 50, { timeoutMs: 5000, what: 'the stream going on after the injection' })
  })

  it('control: the same forged RTP into a pipe without SRTP does reach the sink (the injection works; SRTP is what stops it)', async () => {
    // Two workers: mediasoup takes a producer id once per worker.
    const [wa, wb] = watch.workers.filter((w) => !w.closed) as [ms.Worker, ms.Worker]
    const a = await wa.createRouter({ mediaCodecs })
    const b = await wb.createRouter({ mediaCodecs })
    try {
      const ta = await a.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSrtp: false })
      const tb = await b.createPipeTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, enableSrtp: false })
      await ta.connect({ ip: '127.0.0.1', port: tb.tuple.localPort })
      await tb.connect({ ip: '127.0.0.1', port: ta.tuple.localPort })
      const plain = await createRtpSource({ router: a, kind: 'video', packetsPerSecond: 100 })
      try {
        const consumer = await ta.consume({ producerId: plain.producer.id })
        await tb.produce({ id: plain.producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters })
        const controlSink = await createRtpSink({ router: b, producerId: plain.producer.id })
        try {
          await controlSink.waitForPackets(20, { timeoutMs: 10_000 })
          plain.stop()
          await sleep(100)
          controlSink.reset()
          const ssrc = consumer.rtpParameters.encodings![0]!.ssrc!
          const payloadType = consumer.rtpParameters.codecs[0]!.payloadType
          const from = { ip: '127.0.0.1', port: ta.tuple.localPort }
          const to = { ip: '127.0.0.1', port: tb.tuple.localPort }
          // Sequence numbers following the real ones (the real source stopped): accepted as the stream's.
          const next = randomInt(0x10000)
          await inject(200, (i) => spoofer.send(from, to, forgedRtp(ssrc, payloadType, (next + i) & 0xffff)))
          await waitFor(() => foreignAtSink(controlSink).unstamped > 0, { timeoutMs: 3000, what: 'a forged packet at the control sink' })
        } finally {
          controlSink.close()
        }
      } finally {
        plain.close()
      }
    } finally {
      a.close()
      b.close()
    }
  })
})
