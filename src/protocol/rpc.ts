// Request/response between nodes over one long-lived libp2p stream per pair of nodes and
// direction (a session): frames carry request ids, so requests run concurrently and a
// request costs one round trip, not a stream set-up (Yamux stream + protocol negotiation,
// about three quarters of a request's time when each had its own stream).
import { setTimeout as delay } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProtocolError, RemoteError, RequestTimeoutError, SwarmError } from '../errors.js'
import { createLogger, describeError } from '../logger.js'
import { toErrorAnswer } from './error-answer.js'
import { FrameStream } from './framing.js'
import { decodeRequestFrame, decodeResponseFrame, encodeFrame, MAX_MESSAGE_BYTES, MAX_REQUEST_ID } from './messages.js'
import { TokenBucket } from './token-bucket.js'
import type { ProtocolErrorCode } from '../errors.js'
import type { Request, Response } from './messages.js'
import type { Libp2p, Stream } from '@libp2p/interface'

const log = createLogger('rpc')

/** Answers one request; a thrown error is answered with toErrorAnswer(). */
export type RequestHandler = (request: Request, peerId: string) => Promise<Response>

/** Called for every request that failed validation, with the error code (for counting). */
export type BadRequestListener = (code: ProtocolErrorCode, peerId: string) => void

/**
 * What one peer may make this node do on the pipe protocol, all its sessions together
 * (the `peerLimits` option; docs/protocol.md#limits-per-peer).
 */
export interface ServeLimits {
  /** Its requests handled at once; its next frames wait unread until one ends. Default 64. */
  requestsInFlight: number
  /** Its requests per second, sustained; past the bucket they are answered `busy`. Default 50. */
  requestsPerSecond: number
  /** Requests it may make at once above that rate (the bucket's size). Default 200. */
  requestBurst: number
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = { requestsInFlight: 64, requestsPerSecond: 50, requestBurst: 200 }

/**
 * Why a peer's request or session was refused before any handler ran: `rate` (answered
 * `busy`), `incomplete-frame` and `unread-overflow` (the stream is reset).
 */
export type SessionRefusal = 'rate' | 'incomplete-frame' | 'unread-overflow'

export interface ServeOptions {
  limits?: Partial<ServeLimits>
  /** Called for every refusal (counting). */
  onRefused?: (reason: SessionRefusal, peerId: string) => void
}

/** Inbound sessions of this protocol per connection: a peer needs one (two while one ends). */
const MAX_INBOUND_SESSIONS = 4
/** A frame that cannot be written within this (the other side reads nothing) ends the session. */
const WRITE_TIMEOUT_MS = 10_000
/**
 * Opening a session (dial + protocol negotiation) is shared by the requests that wait for
 * it, so it runs on a deadline of its own rather than the first request's; each request
 * still gives up at its own deadline.
 */
const OPEN_TIMEOUT_MS = 10_000
/** How long the answer to a request that ran out of time is still handed to its `onLateAnswer`. */
const LATE_ANSWER_WINDOW_MS = 60_000

/** Frames written together at most: the answers that came while the previous write was under way. */
const MAX_WRITE_BATCH = 64

/**
 * Writes frames in order, never two writes at once; frames that come while a write is
 * under way go out together in the next one. Under load that is one encryption and one
 * system call for many answers instead of one each.
 */
class FrameWriter {
  private readonly queue: Array<{ frame: Uint8Array, done: PromiseWithResolvers<void> }> = []
  private writing = false

  constructor (private readonly frames: FrameStream) {}

  async write (frame: Uint8Array): Promise<void> {
    const done = Promise.withResolvers<void>()
    this.queue.push({ frame, done })
    if (!this.writing) void this.flush()
    await done.promise
  }

  private async flush (): Promise<void> {
    this.writing = true
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_WRITE_BATCH)
      try {
        await this.frames.write(batch.map((b) => b.frame), AbortSignal.timeout(WRITE_TIMEOUT_MS))
        for (const b of batch) b.done.resolve()
      } catch (err) {
        for (const b of batch) b.done.reject(err)
      }
    }
    this.writing = false
  }
}

/** One peer's share of this node: its requests under way and its request rate, across its sessions. */
class PeerGate {
  sessions = 0
  inFlight = 0
  private readonly waiting: Array<() => void> = []
  readonly rate: TokenBucket

  constructor (private readonly limits: ServeLimits) {
    this.rate = new TokenBucket(limits.requestsPerSecond, limits.requestBurst)
  }

  /** Resolves when the peer may have one more request under way (and counts it). */
  async slot (): Promise<void> {
    if (this.inFlight >= this.limits.requestsInFlight) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.inFlight++
  }

  release (): void {
    this.inFlight--
    this.waiting.shift()?.()
  }
}

/** Peers being served, per host (tests and the status of a node read them). */
const gatesOf = new WeakMap<Libp2p, Map<string, PeerGate>>()

/** What this node holds for the peers it serves on the pipe protocol: all zero once they are gone. */
export function servingState (host: Libp2p): { peers: string[], sessions: number, inFlight: number } {
  const gates = gatesOf.get(host) ?? new Map<string, PeerGate>()
  let sessions = 0
  let inFlight = 0
  for (const gate of gates.values()) {
    sessions += gate.sessions
    inFlight += gate.inFlight
  }
  return { peers: [...gates.keys()], sessions, inFlight }
}

export async function serve (host: Libp2p, protocol: string, handler: RequestHandler, onBad: BadRequestListener, options: ServeOptions = {}): Promise<void> {
  const limits = { ...DEFAULT_SERVE_LIMITS, ...options.limits }
  const onRefused = options.onRefused ?? (() => {})
  const gates = new Map<string, PeerGate>()
  gatesOf.set(host, gates)
  // Kept while the peer is connected, so that a new session does not refill its bucket.
  host.addEventListener('peer:disconnect', (event) => gates.delete(event.detail.toString()))
  await host.handle(protocol, async (stream, connection) => {
    const peerId = connection.remotePeer.toString()
    let gate = gates.get(peerId)
    if (gate === undefined) gates.set(peerId, gate = new PeerGate(limits))
    gate.sessions++
    // +1: a frame of exactly one byte too many reaches the decoder, which answers `too-large`.
    const frames = new FrameStream(stream, MAX_MESSAGE_BYTES + 1)
    const writer = new FrameWriter(frames)
    const inFlight = new Set<Promise<void>>()
    const answer = async (id: number | null, response: Response): Promise<void> => {
      await writer.write(encodeFrame(id, response)).catch((err: Error) => {
        log.debug('answer to %s not written, session ended: %s', peerId, describeError(err))
        stream.abort(err)
      })
    }
    try {
      for (;;) {
        // One frame at most is read ahead of a free slot: the rest wait unread (bounded by MAX_UNREAD_BYTES).
        const frame = decodeRequestFrame(await frames.read())
        await gate.slot()
        if ('error' in frame) {
          gate.release()
          log.debug('bad request from %s: %s', peerId, frame.error.message)
          onBad(frame.error.code, peerId)
          await answer(frame.id, toErrorAnswer(frame.error))
          continue
        }
        if (!gate.rate.take()) {
          gate.release()
          onRefused('rate', peerId)
          // A refusal costs a token too, and a session past the rate is read no faster than
          // it: whatever a peer sends, this node reads and answers about requestsPerSecond of
          // its frames a second; the rest wait unread (and past MAX_UNREAD_BYTES, reset the stream).
          gate.rate.charge(1)
          await answer(frame.id, { type: 'error', code: 'busy', message: `over ${limits.requestsPerSecond} requests per second` })
          await delay(gate.rate.msUntilToken())
          continue
        }
        const handling = handler(frame.request, peerId)
          .catch((err: Error): Response => toErrorAnswer(err))
          .then(async (response) => { await answer(frame.id, response) })
          .finally(() => gate.release())
        inFlight.add(handling)
        void handling.finally(() => inFlight.delete(handling))
      }
    } catch (err) {
      // The requester closed its end (it stopped): answer what is under way, then close.
      if ((err as Error).name === 'UnexpectedEOFError') {
        await Promise.all(inFlight)
        await stream.close().catch((closeErr: Error) => log.trace('closing the session of %s: %s', peerId, describeError(closeErr)))
        return
      }
      if (err instanceof ProtocolError) {
        if (err.code === 'too-large') onBad('too-large', peerId)
        else onRefused('incomplete-frame', peerId)
      } else if ((err as Error).name === 'StreamBufferError') {
        onRefused('unread-overflow', peerId)
      }
      log.debug('session of %s ended: %s', peerId, describeError(err))
      stream.abort(err as Error)
    } finally {
      gate.sessions--
    }
  }, { maxInboundStreams: MAX_INBOUND_SESSIONS, maxOutboundStreams: 32 })
}

/** The requester's side of a session with one peer. */
class Session {
  private nextId = 0
  private readonly pending = new Map<number, { resolve: (r: Response) => void, reject: (e: Error) => void }>()
  /** Requests that ran out of time whose answer still matters to the requester (see RequestOptions). */
  private readonly late = new Map<number, { onLateAnswer: (r: Response) => void, timer: NodeJS.Timeout }>()
  private readonly writer: FrameWriter
  closed = false

  constructor (readonly peerId: string, private readonly stream: Stream, private readonly onClose: () => void) {
    const frames = new FrameStream(stream, MAX_MESSAGE_BYTES)
    this.writer = new FrameWriter(frames)
    void this.readAnswers(frames)
  }

  async request (req: Request, signal: AbortSignal, onLateAnswer?: (r: Response) => void): Promise<Response> {
    if (this.closed) throw new RemoteError(this.peerId, 'unreachable', 'the session with the peer ended')
    const id = this.nextId
    this.nextId = this.nextId === MAX_REQUEST_ID ? 0 : this.nextId + 1
    const answer = new Promise<Response>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    const onAbort = (): void => {
      this.pending.get(id)?.reject(signal.reason as Error)
      if (onLateAnswer !== undefined && !this.closed) {
        const timer = setTimeout(() => this.late.delete(id), LATE_ANSWER_WINDOW_MS).unref()
        this.late.set(id, { onLateAnswer, timer })
      }
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      // Not awaited: the deadline counts from here even if the stream is slow to take the
      // frame. A failed write fails this request and ends the session.
      this.writer.write(encodeFrame(id, req)).catch((err: Error) => {
        this.pending.get(id)?.reject(err)
        this.fail(err)
      })
      return await answer
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.pending.delete(id)
    }
  }

  private async readAnswers (frames: FrameStream): Promise<void> {
    try {
      for (;;) {
        const frame = decodeResponseFrame(await frames.read())
        const waiting = this.pending.get(frame.id)
        if (waiting !== undefined) {
          if ('error' in frame) waiting.reject(frame.error)
          else waiting.resolve(frame.response)
          continue
        }
        // No one waiting: the request ran out of time. Its answer is dropped, unless the
        // requester asked to see it (an answer may have built something to undo).
        const late = frame.id === null ? undefined : this.late.get(frame.id)
        if (late !== undefined && !('error' in frame)) {
          clearTimeout(late.timer)
          this.late.delete(frame.id!)
          late.onLateAnswer(frame.response)
        }
      }
    } catch (err) {
      log.trace('answers from %s end: %s', this.peerId, describeError(err))
      this.fail(err as Error)
    }
  }

  /** The session is over (peer gone, stream closed, a broken frame): every request under way fails. */
  fail (err: Error): void {
    if (this.closed) return
    this.closed = true
    this.onClose()
    for (const { reject } of this.pending.values()) reject(err)
    this.pending.clear()
    for (const { timer } of this.late.values()) clearTimeout(timer)
    this.late.clear()
    this.stream.abort(err)
  }
}

/** Sessions of one host, by protocol and peer. */
const sessions = new WeakMap<Libp2p, Map<string, Promise<Session>>>()

async function sessionWith (host: Libp2p, peerId: string, protocol: string, signal: AbortSignal): Promise<Session> {
  let byKey = sessions.get(host)
  if (byKey === undefined) sessions.set(host, byKey = new Map())
  const map = byKey
  const key = `${protocol} ${peerId}`
  for (;;) {
    const existing = map.get(key)
    if (existing === undefined) break
    const session = await raceSignal(existing, signal)
    if (!session.closed) return session
    // Ended meanwhile: open a new one, unless another request already did.
    if (map.get(key) === existing) map.delete(key)
  }
  const opening = host.dialProtocol(peerIdFromString(peerId), protocol, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
    .then((stream) => new Session(peerId, stream, () => { if (map.get(key) === opening) map.delete(key) }))
  map.set(key, opening)
  // The requests waiting on it get the failure; the map must not keep it.
  opening.catch(() => { if (map.get(key) === opening) map.delete(key) })
  return await raceSignal(opening, signal)
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself goes on). */
async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((resolve, reject) => {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

export interface RequestOptions {
  /**
   * Called with the answer if it comes after the request ran out of time (within a
   * minute): for answers that built something on the other node to undo.
   */
  onLateAnswer?: (response: Response) => void
}

/** Sends one request and returns the answer; error answers become RemoteError. */
export async function request (host: Libp2p, peerId: string, protocol: string, req: Request, timeoutMs: number, options: RequestOptions = {}): Promise<Exclude<Response, { type: 'error' }>> {
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))
  let response: Response
  try {
    const session = await sessionWith(host, peerId, protocol, signal)
    response = await session.request(req, signal, options.onLateAnswer)
  } catch (err) {
    if (err instanceof SwarmError) throw err
    if (signal.aborted) throw new RequestTimeoutError(`${req.type} to ${peerId} got no answer within ${timeoutMs} ms`)
    throw new RemoteError(peerId, 'unreachable', (err as Error).message)
  }
  if (response.type === 'error') throw new RemoteError(peerId, response.code, response.message)
  return response
}

