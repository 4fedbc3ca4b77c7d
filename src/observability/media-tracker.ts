// Follows a node's mediasoup objects (its routers' transports, producers and consumers)
// and reads their traffic counters on demand, for metrics and status; samples their
// media quality periodically (media-sampler.ts) and counts WebRTC transport failures.
// Create it right after the node: transports of routers that existed before are not seen.
import { createLogger, describeError } from '../logger.js'
import { MEDIA_SAMPLE_PERIOD_MS, MediaSampler } from './media-sampler.js'
import type { MediaSample, SampledObject } from './media-sampler.js'
import type { TransportKind } from './media-quality.js'
import type { SwarmNode } from '../node/swarm-node.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('observability')

export { TRANSPORT_KINDS } from './media-quality.js'
export type { TransportKind } from './media-quality.js'

/** Default deadline of a media-quality round's stats, ms. */
export const MEDIA_SAMPLE_TIMEOUT_MS = 2000

export interface MediaTrackerOptions {
  /** Time between two media-quality rounds (every producer's and consumer's stats read), ms. Default MEDIA_SAMPLE_PERIOD_MS (10 s). */
  samplePeriodMs?: number
  /** Deadline of a round's stats, ms; objects that answer later keep their previous figures. Default MEDIA_SAMPLE_TIMEOUT_MS (2 s). */
  sampleTimeoutMs?: number
}

/** WebRTC transports whose ICE or DTLS failed, since the tracker was made. */
export interface WebRtcFailures {
  /** ICE went `disconnected` (mediasoup 3.13's ICE-lite has no `failed`: the client's last ICE path is gone). */
  ice: number
  /** DTLS went `failed` (handshake or certificate fingerprint). */
  dtls: number
}

const KIND_OF_CLASS: Record<string, TransportKind> = {
  PipeTransport: 'pipe', WebRtcTransport: 'webrtc', PlainTransport: 'plain', DirectTransport: 'direct'
}

export type ByTransportKind = Record<TransportKind, number>

/** Totals since the tracker was made, by the kind of transport they went through. */
export interface Traffic {
  bytesReceived: ByTransportKind
  bytesSent: ByTransportKind
  /** RTP packets received by producers. */
  packetsReceived: ByTransportKind
  /** RTP packets sent by consumers. */
  packetsSent: ByTransportKind
  /** False when some counters did not answer within the deadline; they keep their previous values. */
  complete: boolean
}

function zero (): ByTransportKind {
  return { pipe: 0, webrtc: 0, plain: 0, direct: 0 }
}

/**
 * Counters read from live objects, kept monotonic: when an object closes, its last read
 * values are retired into a running total (what it counted after its last read is lost).
 */
class Meter<T extends object> {
  private readonly live = new Map<T, { kind: TransportKind, values: number[] }>()
  private readonly retired: ByTransportKind[]
  private readonly pending = new Set<T>()

  constructor (private readonly width: number) {
    this.retired = Array.from({ length: width }, zero)
  }

  add (object: T, kind: TransportKind): void {
    this.live.set(object, { kind, values: new Array<number>(this.width).fill(0) })
  }

  remove (object: T): void {
    const entry = this.live.get(object)
    if (entry === undefined) return
    entry.values.forEach((v, i) => { (this.retired[i] as ByTransportKind)[entry.kind] += v })
    this.live.delete(object)
  }

  objects (): IterableIterator<[T, { kind: TransportKind }]> {
    return this.live.entries()
  }

  totals (): ByTransportKind[] {
    const totals = this.retired.map((r) => ({ ...r }))
    for (const { kind, values } of this.live.values()) values.forEach((v, i) => { (totals[i] as ByTransportKind)[kind] += v })
    return totals
  }

  /**
   * Reads every live object not already being read; resolves true when all answered
   * before `deadline`. Late answers still count, at the next call.
   */
  async refresh (read: (object: T) => Promise<number[]>, deadline: Promise<void>): Promise<boolean> {
    const reads: Array<Promise<unknown>> = []
    let skipped = false
    for (const object of this.live.keys()) {
      if (this.pending.has(object)) {
        skipped = true
        continue
      }
      this.pending.add(object)
      reads.push(read(object).then((values) => {
        const entry = this.live.get(object)
        // A producer's sum dips when one of its streams (simulcast) goes away: totals must not.
        if (entry !== undefined) entry.values = values.map((v, i) => Math.max(v, entry.values[i] ?? 0))
      }, (err: Error) => log.trace('stats of a closing object not read: %s', describeError(err))).finally(() => this.pending.delete(object)))
    }
    const answered = await Promise.race([Promise.all(reads).then(() => true), deadline.then(() => false)])
    return answered && !skipped
  }
}

export class MediaTracker {
  private readonly transports = new Meter<ms.Transport>(2)
  private readonly producers = new Meter<ms.Producer>(1)
  private readonly consumers = new Meter<ms.Consumer>(1)
  private readonly onRouter = (router: ms.Router): void => this.trackRouter(router)
  private readonly failures: WebRtcFailures = { ice: 0, dtls: 0 }
  private readonly sampler: MediaSampler
  private closed = false

  constructor (private readonly node: SwarmNode, options: MediaTrackerOptions = {}) {
    const periodMs = options.samplePeriodMs ?? MEDIA_SAMPLE_PERIOD_MS
    const timeoutMs = options.sampleTimeoutMs ?? MEDIA_SAMPLE_TIMEOUT_MS
    if (typeof periodMs !== 'number' || !Number.isFinite(periodMs) || periodMs < 100) throw new TypeError(`samplePeriodMs must be a number >= 100, got ${String(periodMs)}`)
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`sampleTimeoutMs must be a number > 0, got ${String(timeoutMs)}`)
    for (const router of node.routers()) this.trackRouter(router)
    node.on('newrouter', this.onRouter)
    this.sampler = new MediaSampler({ objects: () => this.sampledObjects(), pipeStreams: () => node.pipeStreams() }, { periodMs, timeoutMs })
    this.sampler.start()
  }

  /** The last media-quality round (undefined before the first ends). */
  get quality (): MediaSample | undefined {
    return this.sampler.last
  }

  /** Runs a media-quality round now (or joins the one under way). */
  async sampleQuality (): Promise<MediaSample> {
    return await this.sampler.sample()
  }

  /** Live transports of one kind. */
  transportCount (kind: TransportKind): number {
    let n = 0
    for (const [, entry] of this.transports.objects()) if (entry.kind === kind) n++
    return n
  }

  /** ICE and DTLS failures of WebRTC transports so far. */
  get webRtcFailures (): WebRtcFailures {
    return { ...this.failures }
  }

  /** Live consumers by the kind of transport they send on, and by media kind. */
  consumerCounts (): Array<{ transport: TransportKind, kind: ms.MediaKind, count: number }> {
    const counts = new Map<string, { transport: TransportKind, kind: ms.MediaKind, count: number }>()
    for (const [consumer, { kind: transport }] of this.consumers.objects()) {
      const key = `${transport}/${consumer.kind}`
      const entry = counts.get(key) ?? { transport, kind: consumer.kind, count: 0 }
      entry.count++
      counts.set(key, entry)
    }
    return [...counts.values()]
  }

  /** Consumers of the producer on transports other than pipes: the node's own subscribers. */
  localConsumersOf (producerId: string): number {
    let n = 0
    for (const [consumer, { kind }] of this.consumers.objects()) if (kind !== 'pipe' && consumer.producerId === producerId) n++
    return n
  }

  /** Traffic totals since the tracker was made, reading mediasoup's counters for at most `timeoutMs`. */
  async traffic (timeoutMs: number): Promise<Traffic> {
    const { deadline, cancel } = deadlineOf(timeoutMs)
    try {
      const done = await Promise.all([
        this.transports.refresh(async (t) => {
          const [stats] = await t.getStats() as Array<{ bytesReceived?: number, bytesSent?: number }>
          return [stats?.bytesReceived ?? 0, stats?.bytesSent ?? 0]
        }, deadline),
        this.producers.refresh(async (p) => [sumPackets(await p.getStats(), 'inbound-rtp')], deadline),
        this.consumers.refresh(async (c) => [sumPackets(await c.getStats(), 'outbound-rtp')], deadline)
      ])
      const [bytesReceived, bytesSent] = this.transports.totals() as [ByTransportKind, ByTransportKind]
      return {
        bytesReceived,
        bytesSent,
        packetsReceived: this.producers.totals()[0] as ByTransportKind,
        packetsSent: this.consumers.totals()[0] as ByTransportKind,
        complete: done.every(Boolean)
      }
    } finally {
      cancel()
    }
  }

  /** Stops following new routers and sampling. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.sampler.stop()
    this.node.off('newrouter', this.onRouter)
  }

  private * sampledObjects (): Generator<SampledObject> {
    for (const [object, { kind }] of this.producers.objects()) yield { object, role: 'producer', transport: kind }
    for (const [object, { kind }] of this.consumers.objects()) yield { object, role: 'consumer', transport: kind }
  }

  private trackRouter (router: ms.Router): void {
    router.observer.on('newtransport', (transport) => {
      // mediasoup 3.13 transports carry no type field; their class says it.
      const kind = KIND_OF_CLASS[transport.constructor.name] ?? 'direct'
      this.transports.add(transport, kind)
      transport.observer.once('close', () => this.transports.remove(transport))
      if (kind === 'webrtc') {
        const webRtc = transport as ms.WebRtcTransport
        webRtc.observer.on('icestatechange', (state: ms.IceState) => { if (state === 'disconnected') this.failures.ice++ })
        webRtc.observer.on('dtlsstatechange', (state: ms.DtlsState) => { if (state === 'failed') this.failures.dtls++ })
      }
      transport.observer.on('newproducer', (producer) => {
        this.producers.add(producer, kind)
        producer.observer.once('close', () => this.producers.remove(producer))
      })
      transport.observer.on('newconsumer', (consumer) => {
        this.consumers.add(consumer, kind)
        consumer.observer.once('close', () => this.consumers.remove(consumer))
      })
    })
  }
}

function sumPackets (stats: Array<{ type: string, packetCount?: number }>, type: string): number {
  return stats.reduce((n, s) => n + (s.type === type ? s.packetCount ?? 0 : 0), 0)
}

function deadlineOf (ms: number): { deadline: Promise<void>, cancel: () => void } {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  return { deadline, cancel: () => clearTimeout(timer) }
}
