// A synthetic media sender: real RTP over UDP into a mediasoup PlainTransport, so tests
// and benchmarks measure what mediasoup really forwards.
import { randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import { openLoopbackEnd } from './loopback.js'
import { types as ms } from 'mediasoup'
import { countKeyFrameRequests, SEND_TIME_TRAILER_LENGTH, writeRtpPacket, writeSendTime } from './rtp-packet.js'

export type MediaKind = 'audio' | 'video'

export const OPUS_PAYLOAD_TYPE = 100
export const VP8_PAYLOAD_TYPE = 101
export const DEFAULT_PACKETS_PER_SECOND = 50
export const DEFAULT_KEY_FRAME_EVERY = 25

/** Router codecs the source's streams need (payload types as the source sends them). */
export const mediaCodecs: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: OPUS_PAYLOAD_TYPE },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: VP8_PAYLOAD_TYPE }
]

export interface RtpSourceOptions {
  /** Router the producer is created in. Required. */
  router: ms.Router
  kind: MediaKind
  /** Send rate. Default 50 packets per second; every packet is a whole frame. */
  packetsPerSecond?: number
  /** Nonzero 32-bit SSRC. Default random. */
  ssrc?: number
  /** Video only: every Nth packet is a key frame (1 = every packet). Default 25. */
  keyFrameEvery?: number
  /** Id of the producer. Default chosen by mediasoup. */
  producerId?: string
  appData?: ms.AppData
  /** Create the producer paused. Default false. */
  paused?: boolean
  /** Start sending at once. Default true. */
  autoStart?: boolean
}

export interface RtpSource {
  readonly producer: ms.Producer
  readonly transport: ms.PlainTransport
  readonly ssrc: number
  readonly kind: MediaKind
  /** RTP packets handed to the socket without error. */
  readonly sent: number
  /** PLI and FIR messages received from mediasoup. */
  readonly keyFrameRequests: number
  /** Failed sends and other errors on the socket; they are counted, not thrown. */
  readonly socketErrors: number
  /** Starts or continues sending; no-op when sending. Throws InvalidStateError once closed. */
  start (): void
  /** Stops sending; start() continues the same stream (sequence numbers go on). */
  stop (): void
  /** Stops, closes the socket and the transport (hence the producer). Idempotent. */
  close (): void
}

// After an event-loop stall the source sends at most this many late packets at once and
// drops the rest of the backlog: a real sender does not burst a whole second of media.
const MAX_BURST = 10
const VIDEO_WIDTH = 320
const VIDEO_HEIGHT = 240
const AUDIO_PAYLOAD_LENGTH = 80
const KEY_FRAME_PAYLOAD_LENGTH = 1000
const DELTA_FRAME_PAYLOAD_LENGTH = 300

export async function createRtpSource (options: RtpSourceOptions): Promise<RtpSource> {
  const settings = validate(options)
  const { socket, transport } = await openLoopbackEnd(options.router, true)
  try {
    const producer = await transport.produce({
      id: options.producerId,
      kind: options.kind,
      rtpParameters: rtpParametersFor(options.kind, settings.ssrc),
      paused: options.paused ?? false,
      appData: options.appData
    })
    const source = new Source(socket, transport, producer, options.kind, settings)
    if (options.autoStart ?? true) source.start()
    return source
  } catch (err) {
    transport.close()
    socket.close()
    throw err
  }
}

interface Settings {
  packetsPerSecond: number
  ssrc: number
  keyFrameEvery: number
}

class Source implements RtpSource {
  private sentCount = 0
  private keyFrameRequestCount = 0
  private socketErrorCount = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false
  /** Packets built so far; drives sequence number, timestamp and key frame cadence. */
  private packetIndex = 0
  private keyFrameRequested = false
  private readonly firstSequenceNumber = randomInt(0x10000)
  private readonly firstTimestamp = randomInt(2 ** 32)
  private readonly clockRate: number

  constructor (
    private readonly socket: dgram.Socket,
    readonly transport: ms.PlainTransport,
    readonly producer: ms.Producer,
    readonly kind: MediaKind,
    private readonly settings: Settings
  ) {
    this.clockRate = kind === 'audio' ? 48000 : 90000
    socket.on('message', (packet) => this.onRtcp(packet))
    socket.on('error', () => { this.socketErrorCount++ })
    // Closing the router or worker closes the transport: take the socket and timer with it.
    transport.observer.once('close', () => this.close())
  }

  get ssrc (): number { return this.settings.ssrc }
  get sent (): number { return this.sentCount }
  get keyFrameRequests (): number { return this.keyFrameRequestCount }
  get socketErrors (): number { return this.socketErrorCount }

  start (): void {
    if (this.closed) throw new ms.InvalidStateError('RTP source closed')
    if (this.timer !== undefined) return
    const { packetsPerSecond } = this.settings
    const startedAt = performance.now()
    let scheduled = 0
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - startedAt) * packetsPerSecond / 1000) - scheduled
      for (let i = 0; i < Math.min(due, MAX_BURST); i++) this.sendNext()
      scheduled += due
    }, Math.max(1, Math.floor(1000 / packetsPerSecond)))
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.stop()
    this.socket.close()
    this.transport.close()
  }

  private sendNext (): void {
    const index = this.packetIndex++
    const keyFrame = this.kind === 'video' && (this.keyFrameRequested || index % this.settings.keyFrameEvery === 0)
    if (keyFrame) this.keyFrameRequested = false
    const payload = this.kind === 'audio' ? opusPayload() : vp8Payload(keyFrame, index)
    writeSendTime(payload, performance.now())
    const packet = writeRtpPacket({
      // Audio marks the start of a talkspurt; video the last packet of a frame (all of them).
      marker: this.kind === 'video' || index === 0,
      payloadType: this.kind === 'audio' ? OPUS_PAYLOAD_TYPE : VP8_PAYLOAD_TYPE,
      sequenceNumber: this.firstSequenceNumber + index,
      timestamp: this.firstTimestamp + Math.round(index * this.clockRate / this.settings.packetsPerSecond),
      ssrc: this.settings.ssrc
    }, payload)
    this.socket.send(packet, this.transport.tuple.localPort, '127.0.0.1', (err) => {
      if (err === null) this.sentCount++
      else if (!this.closed) this.socketErrorCount++
    })
  }

  private onRtcp (packet: Buffer): void {
    const requests = countKeyFrameRequests(packet)
    if (requests === 0) return
    this.keyFrameRequestCount += requests
    this.keyFrameRequested = true
  }
}

function rtpParametersFor (kind: MediaKind, ssrc: number): ms.RtpParameters {
  const codec: ms.RtpCodecParameters = kind === 'audio'
    ? { mimeType: 'audio/opus', payloadType: OPUS_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }
    : {
        mimeType: 'video/VP8',
        payloadType: VP8_PAYLOAD_TYPE,
        clockRate: 90000,
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]
      }
  return { codecs: [codec], encodings: [{ ssrc }] }
}

function opusPayload (): Buffer {
  const payload = Buffer.alloc(AUDIO_PAYLOAD_LENGTH + SEND_TIME_TRAILER_LENGTH, 0xa5)
  payload[0] = 0x78 // TOC: config 15 (hybrid, fullband, 20 ms), mono, one frame
  return payload
}

/**
 * mediasoup forwards VP8 to a new consumer only from a key frame it recognises, and it
 * parses only the extended payload descriptor (worker/src/RTC/Codecs/VP8.cpp).
 */
function vp8Payload (keyFrame: boolean, pictureId: number): Buffer {
  const payload = Buffer.alloc((keyFrame ? KEY_FRAME_PAYLOAD_LENGTH : DELTA_FRAME_PAYLOAD_LENGTH) + SEND_TIME_TRAILER_LENGTH, 0x5a)
  payload[0] = 0x90 // X=1, S=1, partition index 0
  payload[1] = 0x80 // I=1: picture id follows
  payload.writeUInt16BE(0x8000 | (pictureId & 0x7fff), 2) // M=1: 15-bit picture id
  // VP8 frame tag: bit 0 is 0 for a key frame; bit 4 show_frame.
  payload[4] = keyFrame ? 0x10 : 0x11
  payload[5] = 0x00
  payload[6] = 0x00
  if (keyFrame) {
    payload.set([0x9d, 0x01, 0x2a], 7) // key frame start code
    payload.writeUInt16LE(VIDEO_WIDTH, 10)
    payload.writeUInt16LE(VIDEO_HEIGHT, 12)
  }
  return payload
}

function validate (options: RtpSourceOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const { router, kind, packetsPerSecond = DEFAULT_PACKETS_PER_SECOND, ssrc = randomInt(1, 2 ** 32), keyFrameEvery = DEFAULT_KEY_FRAME_EVERY } = options
  if (typeof router?.createPlainTransport !== 'function') throw new TypeError('router must be a mediasoup Router')
  if (kind !== 'audio' && kind !== 'video') throw new TypeError(`kind must be 'audio' or 'video', got ${String(kind)}`)
  if (typeof packetsPerSecond !== 'number' || !Number.isFinite(packetsPerSecond) || packetsPerSecond <= 0) {
    throw new TypeError(`packetsPerSecond must be a finite number > 0, got ${String(packetsPerSecond)}`)
  }
  if (!Number.isInteger(ssrc) || ssrc < 1 || ssrc > 0xffffffff) throw new TypeError(`ssrc must be an integer within 1..2^32-1, got ${String(ssrc)}`)
  if (!Number.isInteger(keyFrameEvery) || keyFrameEvery < 1) throw new TypeError(`keyFrameEvery must be an integer >= 1, got ${String(keyFrameEvery)}`)
  if (options.producerId !== undefined && (typeof options.producerId !== 'string' || options.producerId === '')) {
    throw new TypeError('producerId must be a non-empty string')
  }
  if (options.appData !== undefined && (typeof options.appData !== 'object' || options.appData === null)) {
    throw new TypeError('appData must be an object')
  }
  return { packetsPerSecond, ssrc, keyFrameEvery }
}
