// An exact media receiver: a PlainTransport consumer sending to a local UDP socket that
// counts every RTP packet, per SSRC, with sequence gaps, reordering and arrival times.
import dgram from 'node:dgram'
import { openLoopbackEnd } from './loopback.js'
import type { types as ms } from 'mediasoup'
import { readRtpHeader, readSendTime, sequenceDelta } from './rtp-packet.js'
import { DEFAULT_TIMEOUT_MS, HarnessTimeoutError, sleep, waitFor } from './wait.js'

export interface RtpSinkOptions {
  /** Router the consumer is created in. Required. */
  router: ms.Router
  /** Producer to consume; it must be in `router`. */
  producerId: string
  /** Create the consumer paused (resume it with `sink.consumer.resume()`). Default false. */
  paused?: boolean
}

export interface SsrcStats {
  packets: number
  /** Sequence numbers skipped and not (yet) arrived late. */
  lost: number
  /** Packets older than one already received (late or duplicated). */
  outOfOrder: number
  /** performance.now() of the first and last packet, in ms. */
  firstArrival: number
  lastArrival: number
  /** process.hrtime.bigint() of the first and last packet, in ns. */
  firstArrivalNs: bigint
  lastArrivalNs: bigint
}

export interface RtpSinkStats {
  packets: number
  ssrcs: Map<number, SsrcStats>
  lost: number
  outOfOrder: number
  /** Packets whose payload type is not the consumer's codec. */
  wrongPayloadType: number
  /** performance.now() of the first and last packet of any SSRC, in ms; undefined before any. */
  firstArrival: number | undefined
  lastArrival: number | undefined
}

export interface WaitOptions {
  /** Default 5000 ms. */
  timeoutMs?: number
}

export interface RtpSink {
  readonly consumer: ms.Consumer
  readonly transport: ms.PlainTransport
  /** RTP packets received since creation or the last reset(); RTCP is not counted. */
  readonly packets: number
  /** performance.now() of every RTP packet, in ms. */
  readonly arrivals: readonly number[]
  /** One-way delay in ms of every packet stamped by createRtpSource() in this process. */
  readonly latencies: readonly number[]
  stats (): RtpSinkStats
  /** Resolves once `packets` ≥ n; HarnessTimeoutError after `timeoutMs`. */
  waitForPackets (n: number, options?: WaitOptions): Promise<void>
  /** Resolves once no packet arrived for `ms`; HarnessTimeoutError if media keeps flowing past `timeoutMs` (default ms + 5000). */
  waitForSilence (ms: number, options?: WaitOptions): Promise<void>
  /** Asks the producer for a key frame (PLI/FIR up to the sender). */
  requestKeyFrame (): Promise<void>
  /** Forgets all packets counted so far. */
  reset (): void
  /** Closes the socket and the transport (hence the consumer). Idempotent. */
  close (): void
}

export async function createRtpSink (options: RtpSinkOptions): Promise<RtpSink> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  if (typeof options.router?.createPlainTransport !== 'function') throw new TypeError('router must be a mediasoup Router')
  if (typeof options.producerId !== 'string' || options.producerId === '') throw new TypeError('producerId must be a non-empty string')
  const { socket, transport } = await openLoopbackEnd(options.router, false)
  let sink: Sink | undefined
  try {
    await transport.connect({ ip: '127.0.0.1', port: socket.address().port })
    const consumer = await transport.consume({
      producerId: options.producerId,
      rtpCapabilities: withoutBandwidthEstimation(options.router.rtpCapabilities),
      paused: options.paused ?? false,
      // The sink never sends NACKs, so there would be no retransmissions: without RTX every
      // packet belongs to the one media stream and the counts are exact.
      enableRtx: false
    })
    sink = new Sink(socket, transport, consumer)
    // A new video consumer forwards nothing until a key frame; ask for one now rather than
    // wait for the source's next periodic one.
    if (consumer.kind === 'video' && !consumer.paused) await consumer.requestKeyFrame()
    return sink
  } catch (err) {
    if (sink !== undefined) {
      sink.close()
    } else {
      transport.close()
      socket.close()
    }
    throw err
  }
}

const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb'])
const BWE_HEADER_EXTENSIONS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'
])

/**
 * The sink never sends congestion feedback, so bandwidth estimation would only make
 * mediasoup send probation packets (their own SSRC and payload type) to it.
 */
function withoutBandwidthEstimation (capabilities: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    codecs: capabilities.codecs?.map((codec) => ({ ...codec, rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !BWE_FEEDBACK.has(fb.type)) })),
    headerExtensions: capabilities.headerExtensions?.filter((ext) => !BWE_HEADER_EXTENSIONS.has(ext.uri))
  }
}

interface SsrcState extends SsrcStats {
  /** Newest sequence number seen (16 bits). */
  highestSequenceNumber: number
}

class Sink implements RtpSink {
  private ssrcs = new Map<number, SsrcState>()
  private packetCount = 0
  private wrongPayloadType = 0
  private arrivalTimes: number[] = []
  private latencySamples: number[] = []
  private closed = false
  private readonly expectedPayloadType: number | undefined

  constructor (
    private readonly socket: dgram.Socket,
    readonly transport: ms.PlainTransport,
    readonly consumer: ms.Consumer
  ) {
    this.expectedPayloadType = consumer.rtpParameters.codecs[0]?.payloadType
    socket.on('message', (packet) => this.onPacket(packet))
    // Closing the router or worker closes the transport: take the socket with it.
    transport.observer.once('close', () => this.close())
  }

  get packets (): number { return this.packetCount }
  get arrivals (): readonly number[] { return this.arrivalTimes }
  get latencies (): readonly number[] { return this.latencySamples }

  stats (): RtpSinkStats {
    const states = [...this.ssrcs.values()]
    return {
      packets: this.packetCount,
      ssrcs: new Map([...this.ssrcs].map(([ssrc, { highestSequenceNumber: _, ...stats }]) => [ssrc, stats])),
      lost: states.reduce((sum, s) => sum + s.lost, 0),
      outOfOrder: states.reduce((sum, s) => sum + s.outOfOrder, 0),
      wrongPayloadType: this.wrongPayloadType,
      firstArrival: states.length === 0 ? undefined : Math.min(...states.map((s) => s.firstArrival)),
      lastArrival: states.length === 0 ? undefined : Math.max(...states.map((s) => s.lastArrival))
    }
  }

  async waitForPackets (n: number, options: WaitOptions = {}): Promise<void> {
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be an integer >= 0, got ${String(n)}`)
    await waitFor(() => this.packetCount >= n, {
      timeoutMs: options.timeoutMs,
      intervalMs: 5,
      what: `${n} packets at the sink`,
      progress: () => `${this.packetCount} of ${n} packets`
    })
  }

  async waitForSilence (ms: number, options: WaitOptions = {}): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new TypeError(`ms must be a finite number >= 0, got ${String(ms)}`)
    const timeoutMs = options.timeoutMs ?? ms + DEFAULT_TIMEOUT_MS
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const last = this.arrivalTimes.at(-1)
      const quietFor = last === undefined ? Infinity : performance.now() - last
      if (quietFor >= ms) return
      if (performance.now() + (ms - quietFor) > deadline) {
        throw new HarnessTimeoutError(`${ms} ms without packets`, timeoutMs, `last packet ${quietFor.toFixed(0)} ms ago`)
      }
      await sleep(ms - quietFor)
    }
  }

  async requestKeyFrame (): Promise<void> {
    await this.consumer.requestKeyFrame()
  }

  reset (): void {
    this.ssrcs = new Map()
    this.packetCount = 0
    this.wrongPayloadType = 0
    this.arrivalTimes = []
    this.latencySamples = []
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.socket.close()
    this.transport.close()
  }

  private onPacket (packet: Buffer): void {
    const header = readRtpHeader(packet)
    if (header === undefined) return // RTCP (sender reports) or not RTP at all
    const now = performance.now()
    const nowNs = process.hrtime.bigint()
    this.packetCount++
    this.arrivalTimes.push(now)
    const sendTime = readSendTime(packet)
    if (sendTime !== undefined) this.latencySamples.push(now - sendTime)
    if (header.payloadType !== this.expectedPayloadType) this.wrongPayloadType++
    const state = this.ssrcs.get(header.ssrc)
    if (state === undefined) {
      this.ssrcs.set(header.ssrc, {
        packets: 1,
        lost: 0,
        outOfOrder: 0,
        firstArrival: now,
        lastArrival: now,
        firstArrivalNs: nowNs,
        lastArrivalNs: nowNs,
        highestSequenceNumber: header.sequenceNumber
      })
      return
    }
    state.packets++
    state.lastArrival = now
    state.lastArrivalNs = nowNs
    const delta = sequenceDelta(state.highestSequenceNumber, header.sequenceNumber)
    if (delta > 0) {
      state.lost += delta - 1
      state.highestSequenceNumber = header.sequenceNumber
    } else {
      state.outOfOrder++
      // A late packet was counted as lost when its successor arrived; a duplicate was not.
      if (delta < 0 && state.lost > 0) state.lost--
    }
  }
}
