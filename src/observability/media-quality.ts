// Media-quality figures from mediasoup's RTP stream stats (`producer.getStats()`: one
// `inbound-rtp` entry per stream, several with simulcast; `consumer.getStats()`: its
// `outbound-rtp` entry). Pure functions: the sampler (media-sampler.ts) feeds them.

/** The kinds of mediasoup transport, for labels. */
export type TransportKind = 'pipe' | 'webrtc' | 'plain' | 'direct'
export const TRANSPORT_KINDS: readonly TransportKind[] = ['pipe', 'webrtc', 'plain', 'direct']

/** Counts that only grow over an object's life (RTP packets, bytes, losses, feedback). */
export interface RtpCounts {
  packets: number
  bytes: number
  /** Packets lost: seen missing by this node (inbound), reported by the receiver (outbound). */
  packetsLost: number
  nacks: number
  plis: number
  firs: number
}

export interface QualityFigures extends RtpCounts {
  /** Over the time since the previous sample; mediasoup's own (last second) on the first. */
  bitrateBps: number
  /**
   * mediasoup's fraction lost (of 256) over the last RTCP report interval (1 to 5 s): worked
   * out by this node for a received stream, reported by the receiver for a sent one.
   */
  packetLossFraction: number
  /** Interarrival jitter (RFC 3550) in ms; null when mediasoup gives none (outbound streams). */
  jitterMs: number | null
  /** From RTCP reports; null until one came. */
  rttMs: number | null
  /** mediasoup's stream score, 0 (worst) to 10; the lowest of the streams; null without streams. */
  score: number | null
  /** Packets since the previous sample (since the start on the first): the weight of `packetLossFraction` when figures are combined. */
  periodPackets: number
}

/** What a later sample of the same object needs from this one. */
export interface StreamSample {
  /** ms (performance.now()). */
  at: number
  counts: RtpCounts
}

/** The fields of mediasoup's RtpStreamRecvStats / RtpStreamSendStats used here. */
export interface RtpStreamStat {
  type: string
  packetCount?: number
  byteCount?: number
  packetsLost?: number
  /** Of 256, over the last RTCP report interval. */
  fractionLost?: number
  nackCount?: number
  pliCount?: number
  firCount?: number
  score?: number
  bitrate?: number
  /** In RTP timestamp units (the codec's clock rate). */
  jitter?: number
  /** ms; absent until an RTCP report gave one. */
  roundTripTime?: number
}

export const ZERO_COUNTS: Readonly<RtpCounts> = Object.freeze({ packets: 0, bytes: 0, packetsLost: 0, nacks: 0, plis: 0, firs: 0 })

const COUNT_KEYS = Object.keys(ZERO_COUNTS) as Array<keyof RtpCounts>

export function addCounts (a: RtpCounts, b: RtpCounts): RtpCounts {
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes, packetsLost: a.packetsLost + b.packetsLost, nacks: a.nacks + b.nacks, plis: a.plis + b.plis, firs: a.firs + b.firs }
}

/** Each count the larger of the two: a producer's sums dip when one of its simulcast streams goes away. */
export function maxCounts (a: RtpCounts, b: RtpCounts): RtpCounts {
  const out = { ...a }
  for (const key of COUNT_KEYS) out[key] = Math.max(a[key], b[key])
  return out
}

/**
 * Figures of one producer or consumer from its stats entries of `type` ('inbound-rtp' for
 * a producer, 'outbound-rtp' for a consumer), taken at `at` (ms); `previous` is what the
 * last sample of the same object returned as `sample`.
 */
export function streamFigures (stats: readonly RtpStreamStat[], type: 'inbound-rtp' | 'outbound-rtp', clockRate: number, at: number, previous?: StreamSample): { figures: QualityFigures, sample: StreamSample } {
  const streams = stats.filter((s) => s.type === type)
  let counts: RtpCounts = { ...ZERO_COUNTS }
  let mediasoupBitrate = 0
  let jitter: number | null = null
  let rtt: number | null = null
  let score: number | null = null
  const losses: Array<{ fraction: number, weight: number }> = []
  for (const s of streams) {
    losses.push({ fraction: (s.fractionLost ?? 0) / 256, weight: s.packetCount ?? 0 })
    counts = addCounts(counts, {
      packets: s.packetCount ?? 0,
      bytes: s.byteCount ?? 0,
      // Duplicates make mediasoup's inbound count negative for a while.
      packetsLost: Math.max(0, s.packetsLost ?? 0),
      nacks: s.nackCount ?? 0,
      plis: s.pliCount ?? 0,
      firs: s.firCount ?? 0
    })
    mediasoupBitrate += s.bitrate ?? 0
    if (s.jitter !== undefined && clockRate > 0) jitter = Math.max(jitter ?? 0, s.jitter * 1000 / clockRate)
    if (s.roundTripTime !== undefined && s.roundTripTime > 0) rtt = Math.max(rtt ?? 0, s.roundTripTime)
    if (s.score !== undefined) score = Math.min(score ?? Infinity, s.score)
  }
  if (previous !== undefined) counts = maxCounts(counts, previous.counts)
  const base = previous?.counts ?? ZERO_COUNTS
  const seconds = previous === undefined ? 0 : (at - previous.at) / 1000
  const bitrateBps = seconds > 0 ? (counts.bytes - base.bytes) * 8 / seconds : mediasoupBitrate
  return {
    figures: { ...counts, bitrateBps, packetLossFraction: weightedMean(losses), jitterMs: jitter, rttMs: rtt, score, periodPackets: counts.packets - base.packets },
    sample: { at, counts }
  }
}

/** Figures of several streams together: counts and bitrates summed, the worst jitter, RTT and score, losses weighted by packets. */
export function combineFigures (all: readonly QualityFigures[]): QualityFigures {
  let counts: RtpCounts = { ...ZERO_COUNTS }
  let bitrateBps = 0
  let periodPackets = 0
  let jitterMs: number | null = null
  let rttMs: number | null = null
  let score: number | null = null
  for (const f of all) {
    counts = addCounts(counts, f)
    bitrateBps += f.bitrateBps
    periodPackets += f.periodPackets
    if (f.jitterMs !== null) jitterMs = Math.max(jitterMs ?? 0, f.jitterMs)
    if (f.rttMs !== null) rttMs = Math.max(rttMs ?? 0, f.rttMs)
    if (f.score !== null) score = Math.min(score ?? Infinity, f.score)
  }
  const packetLossFraction = weightedMean(all.map((f) => ({ fraction: f.packetLossFraction, weight: f.periodPackets })))
  return { ...counts, bitrateBps, packetLossFraction, jitterMs, rttMs, score, periodPackets }
}

/** Fractions weighted by packets; plain mean when no weight (no packets anywhere), 0 when none. */
function weightedMean (all: ReadonlyArray<{ fraction: number, weight: number }>): number {
  if (all.length === 0) return 0
  const total = all.reduce((n, x) => n + Math.max(0, x.weight), 0)
  const mean = total > 0
    ? all.reduce((n, x) => n + x.fraction * Math.max(0, x.weight), 0) / total
    : all.reduce((n, x) => n + x.fraction, 0) / all.length
  return Math.min(1, Math.max(0, mean))
}

/** Rounds to `decimals` places (1: tenths of a ms), keeping null. */
export function roundTo (value: number | null, decimals: number): number | null {
  if (value === null) return null
  const scale = 10 ** decimals
  return Math.round(value * scale) / scale
}
