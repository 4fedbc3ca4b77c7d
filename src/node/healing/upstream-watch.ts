// Fast detection of a frozen or cut-off upstream, on the links that carry media only: an
// incoming pipe that has carried RTP, and whose bytes (RTP, RTCP and SCTP, from mediasoup's
// transport stats) stop growing for `silenceMs` while a copy on it is not paused, is
// suspect; the upstream is then pinged with a short deadline, and given up (its connections
// closed: the copies are restored through other nodes) only when that ping fails too. So a busy upstream (a slow ping, media
// flowing) and a frozen Node.js process whose mediasoup worker still forwards (media
// flowing) keep their path; a stopped host or a whole frozen node is left within
// silenceMs + pingTimeoutMs (+ one check period). An upstream that answers while its media
// stays quiet (a source that sends nothing, unpaused) is asked again after twice as long each
// time, up to `quietMaxMs`, and one answer counts for every pipe from it: at one ping a second
// per silent pipe, 100 held silent copies were 30 pings a second in a swarm of 50 (docs/
// benchmarks.md, section 6). Peers that send no media are not watched here (the peer
// monitor's slow pings cover them).
import { createLogger, describeError } from '../../logger.js'
import { isDataProducer } from '../../media/producer-registry.js'
import type { IncomingPipe } from '../pipes/incoming-pipes.js'

const log = createLogger('node:healing')

/** Checks per silence period: detection is at most a quarter period late. */
const CHECKS_PER_PERIOD = 4

export interface UpstreamWatchInit {
  /** The open incoming pipes. */
  pipes: () => IncomingPipe[]
  /** Resolves true when the peer answers a ping within `timeoutMs`. */
  ping: (peerId: string, timeoutMs: number) => Promise<boolean>
  /** The peer is given up: close its connections. */
  giveUp: (peerId: string, reason: string) => void
  silenceMs: number
  pingTimeoutMs: number
  /** Longest wait between pings of an upstream that answers but whose media stays quiet (≥ silenceMs). */
  quietMaxMs: number
  /** A pipe that expects media and has received no byte at all this long is reported once. */
  noBytesWarningMs: number
  /** Says why a pipe may carry nothing (its addresses). */
  onNoBytes: (pipe: IncomingPipe, silentMs: number) => void
}

interface PipeActivity {
  bytes: number
  /** RTP bytes: media. Other bytes (RTCP, SCTP heartbeats) show the upstream's worker is alive, not that media flows. */
  rtpBytes: number
  /** performance.now() when `bytes` last grew (or the pipe was first seen, or a copy resumed). */
  changedAt: number
  reading: boolean
  /** performance.now() when the pipe was first seen expecting media, while no byte came yet. */
  expectingSince?: number
  /** The pipe was reported for carrying no byte. */
  reported: boolean
  /** Silence after which the upstream is pinged: silenceMs, doubled at each answer while the pipe stays quiet. */
  quietMs: number
  /** Not read again before (performance.now()): a pipe with no media to lose is read once per silence period, not four times. */
  nextReadAt: number
}

export class UpstreamWatch {
  private readonly activity = new WeakMap<IncomingPipe, PipeActivity>()
  /** Peers being pinged because of silence. */
  private readonly checking = new Set<string>()
  /** Last time media came from each peer (performance.now()). */
  private readonly lastMedia = new Map<string, number>()
  /** Last time each peer answered a silence ping (performance.now()). */
  private readonly lastAnswer = new Map<string, number>()
  private timer?: NodeJS.Timeout

  constructor (private readonly init: UpstreamWatchInit) {}

  start (): void {
    this.timer = setInterval(() => this.check(), Math.max(10, Math.round(this.init.silenceMs / CHECKS_PER_PERIOD)))
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** True when media came from `peerId` within the last silence period: it is alive. */
  carriesMedia (peerId: string): boolean {
    const at = this.lastMedia.get(peerId)
    return at !== undefined && performance.now() - at < this.init.silenceMs
  }

  private check (): void {
    const now = performance.now()
    const seen = new Set<string>()
    for (const pipe of this.init.pipes()) {
      if (pipe.closing || pipe.transport.closed) continue
      seen.add(pipe.peerId)
      let state = this.activity.get(pipe)
      if (state === undefined) this.activity.set(pipe, state = { bytes: 0, rtpBytes: 0, changedAt: now, reading: false, reported: false, quietMs: this.init.silenceMs, nextReadAt: 0 })
      // Nothing is expected from an upstream whose copies are all paused, or all data
      // producers (SCTP carries messages only when there are some).
      const expectsMedia = [...pipe.copies.values()].some((c) => !isDataProducer(c.producer) && !c.producer.paused)
      if (!expectsMedia) {
        state.changedAt = now
        state.expectingSince = undefined
        continue
      }
      state.expectingSince ??= now
      if (state.reading || now < state.nextReadAt) continue
      state.reading = true
      void this.read(pipe, state).finally(() => { state.reading = false })
    }
    for (const peerId of this.lastMedia.keys()) if (!seen.has(peerId)) this.lastMedia.delete(peerId)
    for (const peerId of this.lastAnswer.keys()) if (!seen.has(peerId)) this.lastAnswer.delete(peerId)
  }

  private async read (pipe: IncomingPipe, state: PipeActivity): Promise<void> {
    let bytes: number
    let rtpBytes: number
    try {
      const [stats] = await pipe.transport.getStats() as Array<{ bytesReceived?: number, rtpBytesReceived?: number }>
      bytes = stats?.bytesReceived ?? 0
      rtpBytes = stats?.rtpBytesReceived ?? 0
    } catch (err) {
      log.trace('stats of pipe %s not read: %s', pipe.transport.id, describeError(err))
      return
    }
    const now = performance.now()
    // Nothing ever came (a source that has not sent yet): there is no media to lose, so no
    // hurry; the peer monitor's slow pings cover such an upstream. Nothing for long, though,
    // is most often an address the upstream cannot send to (or send from): say so once.
    if (bytes === 0) {
      state.changedAt = now
      // Read again a silence period later, not at every check: each read is a round trip
      // to the worker, four per period for a pipe with nothing to lose.
      state.nextReadAt = now + this.init.silenceMs
      const silentMs = now - (state.expectingSince ?? now)
      if (!state.reported && silentMs >= this.init.noBytesWarningMs && !pipe.closing && !pipe.transport.closed) {
        state.reported = true
        this.init.onNoBytes(pipe, silentMs)
      }
      return
    }
    // No media ever came (the pipe's SCTP association only: a source that has not sent
    // yet): as above, nothing to lose.
    if (rtpBytes === 0) {
      state.changedAt = now
      state.nextReadAt = now + this.init.silenceMs
      return
    }
    if (rtpBytes !== state.rtpBytes) {
      state.rtpBytes = rtpBytes
      state.bytes = bytes
      state.changedAt = now
      state.quietMs = this.init.silenceMs
      this.lastMedia.set(pipe.peerId, now)
      return
    }
    // RTCP or an SCTP heartbeat: the upstream's worker is alive, though its media is quiet.
    if (bytes !== state.bytes) {
      state.bytes = bytes
      state.changedAt = now
      return
    }
    if (now - state.changedAt < state.quietMs || this.checking.has(pipe.peerId)) return
    // An upstream that answers is alive (its source may just be quiet): asked again after
    // a longer silence each time. An answer within the last silence period counts for this
    // pipe too.
    const answeredAt = this.lastAnswer.get(pipe.peerId)
    const alive = (answeredAt !== undefined && now - answeredAt < this.init.silenceMs) || await this.alive(pipe.peerId, now - state.changedAt)
    if (!alive) return
    state.changedAt = performance.now()
    state.quietMs = Math.min(2 * state.quietMs, Math.max(this.init.quietMaxMs, this.init.silenceMs))
    state.nextReadAt = state.changedAt + state.quietMs / CHECKS_PER_PERIOD
  }

  private async alive (peerId: string, silentMs: number): Promise<boolean> {
    this.checking.add(peerId)
    try {
      if (await this.init.ping(peerId, this.init.pingTimeoutMs)) {
        log.debug('no media from %s for %d ms, but it answers: kept', peerId, Math.round(silentMs))
        this.lastAnswer.set(peerId, performance.now())
        return true
      }
      if (this.carriesMedia(peerId)) return true
      this.init.giveUp(peerId, `no media for ${Math.round(silentMs)} ms and no answer to a ping within ${this.init.pingTimeoutMs} ms`)
      return false
    } finally {
      this.checking.delete(peerId)
    }
  }
}
