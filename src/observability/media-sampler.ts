// The one periodic reader of mediasoup's RTP stream stats for media quality: every period
// it asks each producer and consumer of the node for its stats (one request to its worker
// each, all at once, under one deadline) and keeps the figures until the next round.
// Scrapes and /status read the last round; they never ask the workers themselves.
import { createLogger, describeError } from '../logger.js'
import { addCounts, combineFigures, roundTo, streamFigures, TRANSPORT_KINDS, ZERO_COUNTS } from './media-quality.js'
import type { QualityFigures, RtpCounts, RtpStreamStat, StreamSample, TransportKind } from './media-quality.js'
import type { PipeStream } from '../node/types.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('observability')

/** Default period of the sampler, ms. */
export const MEDIA_SAMPLE_PERIOD_MS = 10_000

export type StreamRole = 'producer' | 'consumer'
export const STREAM_ROLES: readonly StreamRole[] = ['producer', 'consumer']
export const MEDIA_KINDS: readonly ms.MediaKind[] = ['audio', 'video']

/** One producer carried by a pipe, at one end (the `/status` contract: docs/metrics.md#status). */
export interface PipeQuality {
  producerId: string
  peerId: string
  /** `in`: this node receives the producer from `peerId`; `out`: it sends it to `peerId`. */
  direction: 'in' | 'out'
  kind: ms.MediaKind
  bitrateBps: number
  packetLossFraction: number
  jitterMs: number | null
  rttMs: number | null
  nacks: number
  plis: number
  firs: number
  score: number | null
}

/** Figures of every stream of one direction of the pipes with one peer; counts include closed streams'. */
export interface PipeFigures {
  direction: 'in' | 'out'
  peerId: string
  figures: QualityFigures
}

/** Figures of the producers (or consumers) of one media kind on one kind of transport. */
export interface KindFigures {
  role: StreamRole
  transport: TransportKind
  kind: ms.MediaKind
  /** Totals since the sampler started, closed objects' included. */
  counts: RtpCounts
  /** Of the live objects; null when there are none. */
  figures: QualityFigures | null
}

export interface MediaSample {
  /** Date.now() at the end of the round. */
  sampledAt: number
  /** How long the round took. */
  durationMs: number
  /** False when some objects did not answer within the deadline (they keep their previous figures). */
  complete: boolean
  pipes: PipeQuality[]
  byPipe: PipeFigures[]
  /** Every role × transport × kind, at zero when there is nothing. */
  byKind: KindFigures[]
}

export interface SampledObject {
  object: ms.Producer | ms.Consumer
  role: StreamRole
  transport: TransportKind
}

export interface MediaSamplerComponents {
  /** The node's producers and consumers. */
  objects: () => Iterable<SampledObject>
  /** Which producers and consumers are pipe streams, and with whom. */
  pipeStreams: () => PipeStream[]
}

export interface MediaSamplerInit {
  /** Time between two rounds, ms. */
  periodMs: number
  /** Deadline of a round's stats, ms. */
  timeoutMs: number
}

interface ObjectState {
  role: StreamRole
  transport: TransportKind
  kind: ms.MediaKind
  clockRate: number
  pipe?: { direction: 'in' | 'out', peerId: string, producerId: string }
  sample?: StreamSample
  figures?: QualityFigures
}

type ByKind<T> = Record<StreamRole, Record<TransportKind, Record<ms.MediaKind, T>>>

export class MediaSampler {
  private readonly states = new Map<ms.Producer | ms.Consumer, ObjectState>()
  private readonly retiredByKind: ByKind<RtpCounts> = byKind(() => ({ ...ZERO_COUNTS }))
  /** Closed pipe streams' counts, by direction then peer, while the peer has live streams that way. */
  private readonly retiredByPipe = { in: new Map<string, RtpCounts>(), out: new Map<string, RtpCounts>() }
  private timer: NodeJS.Timeout | undefined
  private round: Promise<MediaSample> | undefined
  private lastSample: MediaSample | undefined

  constructor (private readonly components: MediaSamplerComponents, private readonly init: MediaSamplerInit) {}

  /** The last round's figures; undefined before the first round ends. */
  get last (): MediaSample | undefined {
    return this.lastSample
  }

  start (): void {
    if (this.timer !== undefined) return
    this.tick()
    this.timer = setInterval(() => this.tick(), this.init.periodMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Runs a round now (or joins the one under way) and resolves with its figures. */
  async sample (): Promise<MediaSample> {
    this.round ??= this.runRound().finally(() => { this.round = undefined })
    return await this.round
  }

  private tick (): void {
    this.sample().catch((err: Error) => log.warn('media-quality round failed: %s', describeError(err)))
  }

  private async runRound (): Promise<MediaSample> {
    const started = performance.now()
    const entries = new Map<ms.Producer | ms.Consumer, SampledObject>()
    for (const entry of this.components.objects()) entries.set(entry.object, entry)
    const pipeOf = new Map<ms.Producer | ms.Consumer, NonNullable<ObjectState['pipe']>>()
    for (const s of this.components.pipeStreams()) {
      const object = s.direction === 'in' ? s.producer : s.consumer
      pipeOf.set(object, { direction: s.direction, peerId: s.peerId, producerId: s.producerId })
      if (!entries.has(object)) entries.set(object, { object, role: s.direction === 'in' ? 'producer' : 'consumer', transport: 'pipe' })
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), this.init.timeoutMs) })
    let complete = true
    try {
      await Promise.all([...entries.values()].map(async (entry) => {
        const { object } = entry
        const read = (object.getStats() as Promise<RtpStreamStat[]>).then((stats) => ({ stats, at: performance.now() }), (err: Error) => {
          log.trace('stats of a closing %s not read: %s', entry.role, describeError(err))
          return null
        })
        const answer = await Promise.race([read, deadline])
        if (answer === undefined) complete = false
        if (answer === undefined || answer === null || object.closed) return
        const state = this.stateOf(entry, pipeOf.get(object))
        const { figures, sample } = streamFigures(answer.stats, entry.role === 'producer' ? 'inbound-rtp' : 'outbound-rtp', state.clockRate, answer.at, state.sample)
        state.figures = figures
        state.sample = sample
      }))
    } finally {
      clearTimeout(timer)
    }
    const sample = this.summarise(complete, performance.now() - started)
    this.lastSample = sample
    return sample
  }

  private stateOf (entry: SampledObject, pipe: ObjectState['pipe']): ObjectState {
    const { object } = entry
    let state = this.states.get(object)
    if (state === undefined) {
      state = { role: entry.role, transport: entry.transport, kind: object.kind, clockRate: object.rtpParameters.codecs[0]?.clockRate ?? 0, pipe }
      this.states.set(object, state)
      // What it counted up to its last round stays in the totals.
      const observer = object.observer as ms.Producer['observer']
      observer.once('close', () => this.retire(object))
    }
    // A copy can be seen (as a producer) a moment before its pipe lists it.
    if (pipe !== undefined) state.pipe = pipe
    return state
  }

  private retire (object: ms.Producer | ms.Consumer): void {
    const state = this.states.get(object)
    this.states.delete(object)
    if (state?.sample === undefined) return
    const kindTotals = this.retiredByKind[state.role][state.transport]
    kindTotals[state.kind] = addCounts(kindTotals[state.kind], state.sample.counts)
    if (state.pipe !== undefined) {
      const byPeer = this.retiredByPipe[state.pipe.direction]
      byPeer.set(state.pipe.peerId, addCounts(byPeer.get(state.pipe.peerId) ?? ZERO_COUNTS, state.sample.counts))
    }
  }

  private summarise (complete: boolean, durationMs: number): MediaSample {
    const pipes: PipeQuality[] = []
    const livePipes = { in: new Map<string, QualityFigures[]>(), out: new Map<string, QualityFigures[]>() }
    const liveKinds: ByKind<QualityFigures[]> = byKind(() => [])
    for (const state of this.states.values()) {
      const { figures, pipe } = state
      if (figures === undefined) continue
      liveKinds[state.role][state.transport][state.kind].push(figures)
      if (pipe === undefined) continue
      const byPeer = livePipes[pipe.direction]
      const ofPeer = byPeer.get(pipe.peerId)
      if (ofPeer === undefined) byPeer.set(pipe.peerId, [figures])
      else ofPeer.push(figures)
      pipes.push({
        producerId: pipe.producerId,
        peerId: pipe.peerId,
        direction: pipe.direction,
        kind: state.kind,
        bitrateBps: Math.round(figures.bitrateBps),
        packetLossFraction: roundTo(figures.packetLossFraction, 4) as number,
        jitterMs: roundTo(figures.jitterMs, 1),
        rttMs: roundTo(figures.rttMs, 1),
        nacks: figures.nacks,
        plis: figures.plis,
        firs: figures.firs,
        score: figures.score
      })
    }
    // Code-unit order: localeCompare would load ICU's collation data (≈ 3 MB resident).
    pipes.sort((a, b) => byCodeUnits(a.producerId, b.producerId) || byCodeUnits(a.direction, b.direction) || byCodeUnits(a.peerId, b.peerId))
    const byPipe: PipeFigures[] = []
    for (const direction of ['in', 'out'] as const) {
      const retired = this.retiredByPipe[direction]
      // A peer with no live stream that way leaves the metrics: the label set stays bounded.
      for (const peerId of retired.keys()) if (!livePipes[direction].has(peerId)) retired.delete(peerId)
      for (const [peerId, all] of livePipes[direction]) {
        const figures = combineFigures(all)
        byPipe.push({ direction, peerId, figures: { ...figures, ...addCounts(figures, retired.get(peerId) ?? ZERO_COUNTS) } })
      }
    }
    const byKindList: KindFigures[] = []
    for (const role of STREAM_ROLES) {
      for (const transport of TRANSPORT_KINDS) {
        for (const kind of MEDIA_KINDS) {
          const live = liveKinds[role][transport][kind]
          const figures = live.length === 0 ? null : combineFigures(live)
          byKindList.push({ role, transport, kind, counts: addCounts(this.retiredByKind[role][transport][kind], figures ?? ZERO_COUNTS), figures })
        }
      }
    }
    return { sampledAt: Date.now(), durationMs, complete, pipes, byPipe, byKind: byKindList }
  }
}

function byCodeUnits (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byKind<T> (make: () => T): ByKind<T> {
  const perTransport = (): Record<TransportKind, Record<ms.MediaKind, T>> =>
    Object.fromEntries(TRANSPORT_KINDS.map((t) => [t, { audio: make(), video: make() }])) as Record<TransportKind, Record<ms.MediaKind, T>>
  return { producer: perTransport(), consumer: perTransport() }
}
