// Fast detection of a frozen or cut-off upstream, on the links that carry media only: an
// incoming pipe whose bytes (RTP and RTCP, from mediasoup's transport stats) stop growing
// for `silenceMs` while a copy on it is not paused is suspect; the upstream is then pinged
// with a short deadline, and given up (its connections closed: the copies are restored
// through other nodes) only when that ping fails too. So a busy upstream (a slow ping, media
// flowing) and a frozen Node.js process whose mediasoup worker still forwards (media
// flowing) keep their path; a stopped host or a whole frozen node is left within
// silenceMs + pingTimeoutMs (+ one check period). Peers that send no media are not watched
// here (the peer monitor's slow pings cover them).
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
  /** A pipe that expects media and has received no byte at all this long is reported once. */
  noBytesWarningMs: number
  /** Says why a pipe may carry nothing (its addresses). */
  onNoBytes: (pipe: IncomingPipe, silentMs: number) => void
}

interface PipeActivity {
  bytes: number
  /** performance.now() when `bytes` last grew (or the pipe was first seen, or a copy resumed). */
  changedAt: number
  reading: boolean
  /** performance.now() when the pipe was first seen expecting media, while no byte came yet. */
  expectingSince?: number
  /** The pipe was reported for carrying no byte. */
  reported: boolean
}

export class UpstreamWatch {
  private readonly activity = new WeakMap<IncomingPipe, PipeActivity>()
  /** Peers being pinged because of silence. */
  private readonly checking = new Set<string>()
  /** Last time media came from each peer (performance.now()). */
  private readonly lastMedia = new Map<string, number>()
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
      if (state === undefined) this.activity.set(pipe, state = { bytes: 0, changedAt: now, reading: false, reported: false })
      // Nothing is expected from an upstream whose copies are all paused, or all data
      // producers (SCTP carries messages only when there are some).
      const expectsMedia = [...pipe.copies.values()].some((c) => !isDataProducer(c.producer) && !c.producer.paused)
      if (!expectsMedia) {
        state.changedAt = now
        state.expectingSince = undefined
        continue
      }
      state.expectingSince ??= now
      if (state.reading) continue
      state.reading = true
      void this.read(pipe, state).finally(() => { state.reading = false })
    }
    for (const peerId of this.lastMedia.keys()) if (!seen.has(peerId)) this.lastMedia.delete(peerId)
  }

  private async read (pipe: IncomingPipe, state: PipeActivity): Promise<void> {
    let bytes: number
    try {
      const [stats] = await pipe.transport.getStats() as Array<{ bytesReceived?: number }>
      bytes = stats?.bytesReceived ?? 0
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
      const silentMs = now - (state.expectingSince ?? now)
      if (!state.reported && silentMs >= this.init.noBytesWarningMs && !pipe.closing && !pipe.transport.closed) {
        state.reported = true
        this.init.onNoBytes(pipe, silentMs)
      }
      return
    }
    if (bytes !== state.bytes) {
      state.bytes = bytes
      state.changedAt = now
      this.lastMedia.set(pipe.peerId, now)
      return
    }
    if (now - state.changedAt < this.init.silenceMs || this.checking.has(pipe.peerId)) return
    // An upstream that answers is alive (its source may just be quiet): asked again only
    // after another silent period.
    if (await this.alive(pipe.peerId, now - state.changedAt)) state.changedAt = performance.now()
  }

  private async alive (peerId: string, silentMs: number): Promise<boolean> {
    this.checking.add(peerId)
    try {
      if (await this.init.ping(peerId, this.init.pingTimeoutMs)) {
        log.debug('no media from %s for %d ms, but it answers: kept', peerId, Math.round(silentMs))
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
