// Client-facing signalling: browsers running mediasoup-client talk JSON over a WebSocket
// (docs/client-signalling.md) to create WebRtcTransports, producers and consumers in a
// router of this node. It attaches to an http.Server (upgrade requests on one path) or to
// a `ws` WebSocketServer owned by the caller, and knows nothing else about HTTP.
// Each WebSocket is one client (client-session.ts); everything it created is closed when it
// disconnects. Connections and requests are admitted within limits (client-limits.ts).
// Given a CopyEventSource (the swarm node's copy events), consumers of a copy whose path
// broke are re-created when the copy is restored, and the client is told (consumerRestored).
import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import type { types as ms } from 'mediasoup'
import type { ConsumerCloseReason, Notification, SignallingErrorName } from './messages.js'
import type { CopyEvent, CopyEventSource } from './copy-events.js'
import type { RoomSource } from './room-source.js'
import type { CopyCloseReason } from '../node/swarm-node.js'
import { checkSecret, verifyClientToken } from './token.js'
import type { ClientTokenClaims } from './token.js'
import { CLOSE_TOO_MANY_CONNECTIONS, DEFAULT_LIMITS, Refusal, SignallingAdmission } from './client-limits.js'
import type { ClientSignallingLimits, RefusalReason } from './client-limits.js'
import { ClientSession } from './client-session.js'
import type { ResolvedDataProducer, ResolvedProducer, RouterSelector, SessionOwner } from './client-session.js'
import { createLogger, describeError } from '../logger.js'

const log = createLogger('signalling')

/** Close code sent when a connection's token is missing, invalid or expired (like HTTP 401). */
export const CLOSE_UNAUTHORIZED = 4401
/** Close code sent when the client's router closed (its worker died or the app closed it). */
export const CLOSE_ROUTER_CLOSED = 4410
/** Close code sent when the signalling itself is closed. */
export const CLOSE_GOING_AWAY = 1001

/** How long a consumer closed with `upstreamlost` or `moving` waits for its producer to come back by default. */
export const DEFAULT_RESTORE_TIMEOUT_MS = 30_000

/**
 * A copy's close reason is kept this long for the consumers that hear of the close later
 * (mediasoup tells them a moment after; those of a copy piped on to another router of the
 * node, a moment after that).
 */
const CLOSE_REASON_MEMORY_MS = 10_000

const CONSUMER_CLOSE_REASON: Record<CopyCloseReason, ConsumerCloseReason> = {
  producerclosed: 'producerclosed',
  upstreamlost: 'upstreamlost',
  moving: 'moving',
  released: 'released',
  stopping: 'nodestopping'
}

export interface ClientSignallingOptions {
  /**
   * HTTP server whose upgrade requests on `path` become client connections. Give either
   * this or `webSocketServer`.
   */
  server?: http.Server
  /** A `ws` server owned by the caller: each of its connections becomes a client. */
  webSocketServer?: WebSocketServer
  /**
   * With `server`: the URL path clients connect to (query string ignored). Upgrade requests
   * on other paths are left to other listeners. Default: every upgrade request.
   */
  path?: string
  /**
   * The router clients use, or a function choosing one per connection (called once, when
   * the connection first needs it).
   */
  router: ms.Router | RouterSelector
  /**
   * WebRtcServer for the transports (one UDP/TCP port pair for all clients), or a function
   * giving the one of a router's worker. Close the signalling (or the clients' transports)
   * before closing a WebRtcServer: in mediasoup 3.13 closing a WebRtcServer that still has
   * transports aborts the worker. Default none: each transport binds its own ports from
   * `listenInfos`.
   */
  webRtcServer?: ms.WebRtcServer | ((router: ms.Router) => ms.WebRtcServer | undefined)
  /** Where transports listen when there is no webRtcServer. Required in that case. */
  listenInfos?: ms.TransportListenInfo[]
  /**
   * Called before every consume, so a producer living elsewhere (another node of the swarm)
   * can be pulled into the router first, e.g. `(id, router) => node.pipeToRouter({ producerId: id, router })`.
   * It resolves with the producer in `router` (or pipeToRouter()'s `{ pipeProducer }`),
   * whose `appData.room` a client with a room grant is checked against. An error named
   * ProducerNotFoundError or NotFound becomes a NotFound reply, any other an Unavailable
   * reply. Calls for producers not yet in the router are bounded by the lookup limits.
   * Default none: only producers already in the router can be consumed.
   */
  resolveProducer?: (producerId: string, router: ms.Router) => Promise<ResolvedProducer | undefined | void>
  /**
   * The same for `consumeData`: called before every one, e.g.
   * `(id, router) => node.pipeToRouter({ dataProducerId: id, router })`; resolves with the
   * data producer in `router` (or `{ pipeDataProducer }`), whose `appData.room` is checked
   * like a producer's. Errors as for resolveProducer; always bounded by the lookup limits
   * (a router tells no data producer it has). Default none: only data producers already
   * in the router can be consumed.
   */
  resolveDataProducer?: (dataProducerId: string, router: ms.Router) => Promise<ResolvedDataProducer | undefined | void>
  /**
   * Require a token (see createClientToken) as `?token=` in the connection URL. Without a
   * valid one the connection is closed with code 4401 and the reason as close reason.
   * Default none: every connection may do everything.
   */
  authenticate?: { secret: string }
  /** Limits per connection, per address and of all clients; see ClientSignallingLimits for defaults. */
  limits?: Partial<ClientSignallingLimits>
  /**
   * Origins (`https://app.example`) whose pages may connect: a connection whose `Origin`
   * header is not one of them (or has none) is closed with code 4403. Default none: any
   * origin, and clients that send none.
   */
  allowedOrigins?: string[]
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For` header names the client (its last
   * entry) for the per-address limit. Default `['127.0.0.1', '::1']`: a proxy on the same
   * host. `[]`: the socket's address always.
   */
  trustedProxies?: string[]
  /**
   * Why copies of remote producers close and when they come back: `copyEventsOf(node)` for a
   * SwarmNode. With it, `consumerClosed` says why (e.g. `upstreamlost`), and the consumers of
   * a copy that is restored are re-created for their clients (`consumerRestored`). Default
   * none: every `consumerClosed` says `producerclosed` and nothing is re-created.
   */
  copyEvents?: CopyEventSource
  /**
   * With `copyEvents`: how long a consumer closed with `upstreamlost` or `moving` waits for
   * its producer to be restored; then it gets `consumerClosed` with `producerclosed`.
   * Default 30000 ms.
   */
  restoreTimeoutMs?: number
  /**
   * Where `listProducers` with a `room` finds the room's producers, and learns of new and
   * closed ones (`newProducer`, `producerClosed`): a SwarmNode (its watchRoom() follows the
   * room on every node). Default none: `listProducers` with a room answers Unavailable.
   */
  rooms?: RoomSource
}

type ErrorCounts = Record<SignallingErrorName, number>

/** Thrown into a session's requests when its token is refused. */
class Unauthorized extends Error {}

/** Created by createClientSignalling(). */
export class ClientSignalling implements SessionOwner {
  /** Error replies sent, by name (a refused token is counted in `refusedConnections`). */
  readonly errorCounts: ErrorCounts = {
    BadRequest: 0, TooLarge: 0, UnknownMethod: 0, NotFound: 0, Forbidden: 0,
    LimitExceeded: 0, RateLimited: 0, CannotConsume: 0, Unavailable: 0, MediaError: 0
  }

  /** Connections closed because of a missing, invalid or expired token. */
  refusedConnections = 0

  private readonly sessions = new Set<ClientSession>()
  private readonly admission: SignallingAdmission
  /** Data producers of this signalling's clients, by id: their rooms are known without resolveDataProducer. */
  private readonly dataProducers = new Map<string, ms.DataProducer>()
  /** Producers of this signalling's clients, by id: their rooms are known without resolveProducer. */
  private readonly producers = new Map<string, ms.Producer>()
  /** Consumes under way, by router then producer id: a copy they may use is not released. */
  private readonly consuming = new Map<ms.Router, Map<string, number>>()
  /** Sessions by router, so each router gets one close listener however many clients use it. */
  private readonly routerSessions = new Map<ms.Router, Set<ClientSession>>()
  private readonly limits: ClientSignallingLimits
  private readonly ownWss: WebSocketServer | undefined
  private readonly detach: () => void
  private readonly stopCopyEvents: (() => void) | undefined
  /** Why each recently closed copy closed, by producer id. */
  private readonly copyCloseReasons = new Map<string, { reason: ConsumerCloseReason, at: number }>()
  /** @internal */
  readonly restoreTimeoutMs: number
  private closed = false
  private isDraining = false

  /** @internal use createClientSignalling() */
  constructor (private readonly options: ClientSignallingOptions) {
    if ((options.server === undefined) === (options.webSocketServer === undefined)) {
      throw new TypeError('give exactly one of server and webSocketServer')
    }
    if (options.webRtcServer === undefined && (options.listenInfos === undefined || options.listenInfos.length === 0)) {
      throw new TypeError('give webRtcServer or listenInfos')
    }
    if (options.authenticate !== undefined) checkSecret(options.authenticate.secret)
    this.restoreTimeoutMs = options.restoreTimeoutMs ?? DEFAULT_RESTORE_TIMEOUT_MS
    if (!(this.restoreTimeoutMs > 0) || !Number.isFinite(this.restoreTimeoutMs)) throw new TypeError('restoreTimeoutMs must be a positive number')
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    this.admission = new SignallingAdmission(this.limits, options.allowedOrigins, options.trustedProxies)
    const onConnection = (ws: WebSocket, request: http.IncomingMessage): void => this.accept(ws, request)
    if (options.webSocketServer !== undefined) {
      const wss = options.webSocketServer
      wss.on('connection', onConnection)
      this.ownWss = undefined
      this.detach = () => { wss.off('connection', onConnection) }
    } else {
      const server = options.server as http.Server
      // Bigger messages than maxMessageBytes still get a TooLarge reply; past this the
      // connection is closed by ws (1009) without reading the message.
      const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * this.limits.maxMessageBytes })
      const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (options.path !== undefined && pathOf(request) !== options.path) {
          // Another upgrade listener may own this path; with none, do not leave it hanging.
          if (server.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
          return
        }
        wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request))
      }
      server.on('upgrade', onUpgrade)
      this.ownWss = wss
      this.detach = () => { server.off('upgrade', onUpgrade) }
    }
    this.stopCopyEvents = options.copyEvents?.onCopyEvents((event) => this.onCopyEvent(event))
  }

  /** Connected clients. */
  get connectionCount (): number {
    return this.sessions.size
  }

  /** Connections and requests refused by the limits, the allowed origins and the token check, by reason. */
  get refusals (): Readonly<Record<RefusalReason, number>> {
    return this.admission.refusals
  }

  /** True once notifyDraining() was called. */
  get draining (): boolean {
    return this.isDraining
  }

  /**
   * Tells every client, and every client connecting from now on, that this node is draining
   * (`nodeDraining`): they should move to another node. Call it when the node starts to
   * drain; the signalling keeps serving meanwhile. Idempotent.
   */
  notifyDraining (): void {
    if (this.isDraining) return
    this.isDraining = true
    for (const session of this.sessions) session.notify(NODE_DRAINING)
  }

  /**
   * Stops accepting clients, disconnects every client and closes their transports (and so
   * their producers and consumers). Idempotent.
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.detach()
    this.stopCopyEvents?.()
    for (const session of this.sessions) session.close(CLOSE_GOING_AWAY, 'signalling closed')
    this.ownWss?.close()
  }

  /** @internal */
  countError (name: SignallingErrorName): void {
    this.errorCounts[name]++
  }

  /** @internal */
  countRefusal (reason: RefusalReason): void {
    this.admission.count(reason)
  }

  /** @internal */
  lookup (request: http.IncomingMessage, subject: string | undefined): () => void {
    return this.admission.lookup(request, subject)
  }

  /** @internal */
  adoptProducer (producer: ms.Producer): void {
    this.producers.set(producer.id, producer)
    producer.observer.once('close', () => this.producers.delete(producer.id))
  }

  /** @internal */
  producerById (producerId: string): ms.Producer | undefined {
    return this.producers.get(producerId)
  }

  /** @internal */
  adoptDataProducer (dataProducer: ms.DataProducer): void {
    this.dataProducers.set(dataProducer.id, dataProducer)
    dataProducer.observer.once('close', () => this.dataProducers.delete(dataProducer.id))
  }

  /** @internal */
  dataProducerById (dataProducerId: string): ms.DataProducer | undefined {
    return this.dataProducers.get(dataProducerId)
  }

  /** @internal */
  consumeStarting (router: ms.Router, producerId: string): () => void {
    let byId = this.consuming.get(router)
    if (byId === undefined) this.consuming.set(router, byId = new Map())
    const ids = byId
    ids.set(producerId, (ids.get(producerId) ?? 0) + 1)
    let done = false
    return () => {
      if (done) return
      done = true
      const left = (ids.get(producerId) ?? 1) - 1
      if (left > 0) ids.set(producerId, left)
      else ids.delete(producerId)
      if (ids.size === 0 && this.consuming.get(router) === ids) this.consuming.delete(router)
    }
  }

  /** @internal A copy (media or data) brought into `router` for a refused consume: closed unless something uses it. */
  async releaseUnusedCopy (router: ms.Router, copy: ms.Producer | ms.DataProducer): Promise<void> {
    const data = !('kind' in copy)
    const own: ms.Producer | ms.DataProducer | undefined = data ? this.dataProducers.get(copy.id) : this.producers.get(copy.id)
    if (own === copy) return
    const what = data ? `data producer ${copy.id}` : copy.id
    let dump: Awaited<ReturnType<ms.Router['dump']>>
    try {
      dump = await router.dump()
    } catch (err) {
      log.debug('copy of %s kept: no dump of its router (%s)', what, describeError(err))
      return
    }
    const consumers = (data ? dump.mapDataProducerIdDataConsumerIds : dump.mapProducerIdConsumerIds).find((e) => e.key === copy.id)?.values.length ?? 0
    // Checked again after the dump, in the tick of the close: no consume of it may start between.
    if (consumers > 0 || copy.closed || (this.consuming.get(router)?.get(copy.id) ?? 0) > 0) return
    log.debug('releasing the copy of %s brought in for a consume refused by its room', what)
    copy.close()
  }

  /** @internal The session is closed with CLOSE_ROUTER_CLOSED when `router` closes. */
  watchRouter (router: ms.Router, session: ClientSession): void {
    let sessions = this.routerSessions.get(router)
    if (sessions === undefined) {
      const set = sessions = new Set()
      this.routerSessions.set(router, set)
      router.observer.once('close', () => {
        this.routerSessions.delete(router)
        for (const s of set) s.close(CLOSE_ROUTER_CLOSED, 'router closed')
      })
    }
    sessions.add(session)
  }

  /** @internal */
  unwatchRouter (router: ms.Router, session: ClientSession): void {
    this.routerSessions.get(router)?.delete(session)
  }

  /** @internal Why consumers of `producerId` that just heard of its close lost it. */
  closeReasonOf (producerId: string): ConsumerCloseReason {
    const known = this.copyCloseReasons.get(producerId)
    return known !== undefined && performance.now() - known.at < CLOSE_REASON_MEMORY_MS ? known.reason : 'producerclosed'
  }

  private onCopyEvent (event: CopyEvent): void {
    if (event.type === 'copyclosed') {
      const now = performance.now()
      for (const [id, { at }] of this.copyCloseReasons) if (now - at >= CLOSE_REASON_MEMORY_MS) this.copyCloseReasons.delete(id)
      this.copyCloseReasons.set(event.producerId, { reason: CONSUMER_CLOSE_REASON[event.reason], at: now })
      return
    }
    // Each router the copy is restored in gets its own event (copies piped on to other
    // routers of the node included): its clients are the ones to serve.
    for (const session of this.routerSessions.get(event.router) ?? []) {
      if (event.type === 'producerrestored') session.restoreConsumers(event.producerId)
      else session.failRestores(event.producerId)
    }
  }

  private accept (ws: WebSocket, request: http.IncomingMessage): void {
    // Protocol errors (oversized or invalid frames, even from a refused client) are
    // followed by a close, which does the cleanup; unhandled, they would throw.
    ws.on('error', (err) => log.debug('client socket error: %s', describeError(err)))
    if (this.closed) {
      ws.close(CLOSE_GOING_AWAY, 'signalling closed')
      return
    }
    const admitted = this.admission.admit(request)
    if (!admitted.ok) {
      log.debug('connection from %s refused: %s', request.socket.remoteAddress, admitted.message)
      ws.close(admitted.code, admitted.message)
      return
    }
    let releaseSubject: (() => void) | undefined
    let gone = false
    const auth = this.authenticate(request).then((claims) => {
      // A connection that closed while its token was checked holds no slot of its subject.
      if (claims !== undefined && !gone) releaseSubject = this.admission.admitSubject(claims.sub)
      return claims
    }).catch((err: Unauthorized | Refusal) => {
      this.refusedConnections++
      if (err instanceof Refusal) {
        session.close(CLOSE_TOO_MANY_CONNECTIONS, err.message)
      } else {
        this.admission.count('unauthorized')
        session.close(CLOSE_UNAUTHORIZED, `unauthorized: ${err.message}`)
      }
      throw err
    })
    // Messages arriving while the token is checked wait for it in the session.
    const session: ClientSession = new ClientSession(this, ws, request, auth, this.options, this.limits)
    this.sessions.add(session)
    // After the session's own handler: it is admitted by then.
    auth.then(() => { if (this.isDraining) session.notify(NODE_DRAINING) }, () => {})
    ws.once('close', () => {
      gone = true
      this.sessions.delete(session)
      session.close()
      admitted.release()
      releaseSubject?.()
    })
  }

  private async authenticate (request: http.IncomingMessage): Promise<ClientTokenClaims | undefined> {
    if (this.options.authenticate === undefined) return undefined
    const check = await verifyClientToken(tokenOf(request), this.options.authenticate.secret)
    if (!check.ok) throw new Unauthorized(check.reason)
    log.debug('client %s connected from %s', check.claims.sub, request.socket.remoteAddress)
    return check.claims
  }
}

/** Attaches client signalling to an http.Server or a ws WebSocketServer. */
export function createClientSignalling (options: ClientSignallingOptions): ClientSignalling {
  return new ClientSignalling(options)
}

const NODE_DRAINING: Notification = { notification: 'nodeDraining', data: {} }

function pathOf (request: http.IncomingMessage): string {
  const url = request.url ?? '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

function tokenOf (request: http.IncomingMessage): string | null {
  try {
    return new URL(request.url ?? '/', 'http://localhost').searchParams.get('token')
  } catch {
    return null
  }
}

