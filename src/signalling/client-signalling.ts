// Client-facing signalling: browsers running mediasoup-client talk JSON over a WebSocket
// (docs/client-signalling.md) to create WebRtcTransports, producers and consumers in a
// router of this node. It attaches to an http.Server (upgrade requests on one path) or to
// a `ws` WebSocketServer owned by the caller, and knows nothing else about HTTP.
// Each WebSocket is one client; everything it created is closed when it disconnects.
// Given a CopyEventSource (the swarm node's copy events), consumers of a copy whose path
// broke are re-created when the copy is restored, and the client is told (consumerRestored).
import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, WebSocket } from 'ws'
import type { RawData } from 'ws'
import type { types as ms } from 'mediasoup'
import {
  DEFAULT_MAX_MESSAGE_BYTES, RESTORING_REASONS, SignallingError, decodeClientRequest
} from './messages.js'
import type {
  ClientMethod, ClientRequest, ConsumerCloseReason, ConsumerInfo, ErrorReply, Notification, OkReply, RequestDataMap,
  ResponseDataMap, SignallingErrorName, TransportDirection
} from './messages.js'
import type { CopyEvent, CopyEventSource } from './copy-events.js'
import type { CopyCloseReason } from '../node/swarm-node.js'
import { checkSecret, verifyClientToken } from './token.js'
import type { ClientAction, ClientTokenClaims } from './token.js'
import { createLogger, describeError } from '../logger.js'

const log = createLogger('signalling')

/** Close code sent when a connection's token is missing, invalid or expired (like HTTP 401). */
export const CLOSE_UNAUTHORIZED = 4401
/** Close code sent when the client's router closed (its worker died or the app closed it). */
export const CLOSE_ROUTER_CLOSED = 4410
/** Close code sent when the signalling itself is closed. */
export const CLOSE_GOING_AWAY = 1001

/** What a router selector gets to choose the router of a new connection. */
export interface ClientContext {
  /** The HTTP upgrade request (URL, headers, remote address). */
  request: http.IncomingMessage
  /** The verified token claims when `authenticate` is set. */
  token?: ClientTokenClaims
}

export type RouterSelector = (context: ClientContext) => ms.Router | Promise<ms.Router>

export interface ClientSignallingLimits {
  /** Largest message answered; bigger ones get a TooLarge reply. Default 64 KiB. */
  maxMessageBytes: number
  /** WebRtcTransports per connection. Default 4. */
  maxTransports: number
  /** Producers per connection. Default 16. */
  maxProducers: number
  /** Consumers per connection. Default 500 (about what one mediasoup worker serves). */
  maxConsumers: number
  /** Requests of one connection being processed at once. Default 32. */
  maxPendingRequests: number
}

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

export const DEFAULT_LIMITS: ClientSignallingLimits = {
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxTransports: 4,
  maxProducers: 16,
  maxConsumers: 500,
  maxPendingRequests: 32
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
   * An error named ProducerNotFoundError or NotFound becomes a NotFound reply, any other an
   * Unavailable reply. Default none: only producers already in the router can be consumed.
   */
  resolveProducer?: (producerId: string, router: ms.Router) => Promise<unknown>
  /**
   * Require a token (see createClientToken) as `?token=` in the connection URL. Without a
   * valid one the connection is closed with code 4401 and the reason as close reason.
   * Default none: every connection may do everything.
   */
  authenticate?: { secret: string }
  /** Per-connection limits; see ClientSignallingLimits for defaults. */
  limits?: Partial<ClientSignallingLimits>
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
}

type ErrorCounts = Record<SignallingErrorName, number>

/** Created by createClientSignalling(). */
export class ClientSignalling {
  /** Error replies sent, by name (a refused token is counted in `refusedConnections`). */
  readonly errorCounts: ErrorCounts = {
    BadRequest: 0, TooLarge: 0, UnknownMethod: 0, NotFound: 0, Forbidden: 0,
    LimitExceeded: 0, CannotConsume: 0, Unavailable: 0, MediaError: 0
  }

  /** Connections closed because of a missing, invalid or expired token. */
  refusedConnections = 0

  private readonly sessions = new Set<ClientSession>()
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
    let token: ClientTokenClaims | undefined
    if (this.options.authenticate !== undefined) {
      const check = verifyClientToken(tokenOf(request), this.options.authenticate.secret)
      if (!check.ok) {
        this.refusedConnections++
        ws.close(CLOSE_UNAUTHORIZED, `unauthorized: ${check.reason}`)
        return
      }
      token = check.claims
    }
    const session = new ClientSession(this, ws, { request, token }, this.options, this.limits)
    this.sessions.add(session)
    if (this.isDraining) session.notify(NODE_DRAINING)
    ws.once('close', () => {
      this.sessions.delete(session)
      session.close()
    })
  }
}

/** Attaches client signalling to an http.Server or a ws WebSocketServer. */
export function createClientSignalling (options: ClientSignallingOptions): ClientSignalling {
  return new ClientSignalling(options)
}

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

/** What a method needs from the token; `createWebRtcTransport` depends on its direction. */
const METHOD_ACTION: { [M in ClientMethod]: ClientAction | null } = {
  getRouterRtpCapabilities: null,
  createWebRtcTransport: null,
  connectWebRtcTransport: null,
  listProducers: null,
  produce: 'publish',
  pauseProducer: 'publish',
  resumeProducer: 'publish',
  closeProducer: 'publish',
  consume: 'consume',
  pauseConsumer: 'consume',
  resumeConsumer: 'consume',
  closeConsumer: 'consume',
  requestKeyFrame: 'consume'
}

const DIRECTION_ACTION: Record<TransportDirection, ClientAction> = { send: 'publish', recv: 'consume' }

const NODE_DRAINING: Notification = { notification: 'nodeDraining', data: {} }

interface TransportEntry { transport: ms.WebRtcTransport, direction: TransportDirection }

/** What a consumer was made with, so it can be made again when its producer comes back. */
interface ConsumeArgs { transport: ms.WebRtcTransport, producerId: string, rtpCapabilities: ms.RtpCapabilities }
/** A consumer closed with `upstreamlost` or `moving`, by its id: waiting for its producer. */
interface PendingRestore extends ConsumeArgs { timer: NodeJS.Timeout, creating: boolean }
type Handlers = { [M in ClientMethod]: (data: RequestDataMap[M]) => Promise<ResponseDataMap[M]> }

function toSignallingError (err: unknown): SignallingError {
  if (err instanceof SignallingError) return err
  if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) return new SignallingError('BadRequest', err.message)
  return new SignallingError('MediaError', err instanceof Error ? err.message : String(err))
}

/** One connected client and everything it created. @internal */
export class ClientSession {
  private readonly transports = new Map<string, TransportEntry>()
  private readonly producers = new Map<string, ms.Producer>()
  private readonly consumers = new Map<string, ms.Consumer>()
  /** Closed consumers waiting for their producer to be restored; each keeps its slot of maxConsumers. */
  private readonly awaitingRestore = new Map<string, PendingRestore>()
  /** Objects being created, counted against the limits before they exist. */
  private readonly reserved = { transports: 0, producers: 0, consumers: 0 }
  private pending = 0
  private routerPromise: Promise<ms.Router> | undefined
  private closed = false
  private router: ms.Router | undefined

  constructor (
    private readonly owner: ClientSignalling,
    private readonly ws: WebSocket,
    private readonly context: ClientContext,
    private readonly options: ClientSignallingOptions,
    private readonly limits: ClientSignallingLimits
  ) {
    ws.on('message', (raw, isBinary) => { void this.onMessage(raw, isBinary) })
  }

  /** Closes the client's transports (cascading to producers and consumers), then the socket if asked. */
  close (code?: number, reason?: string): void {
    if (!this.closed) {
      this.closed = true
      if (this.router !== undefined) this.owner.unwatchRouter(this.router, this)
      for (const pending of this.awaitingRestore.values()) clearTimeout(pending.timer)
      this.awaitingRestore.clear()
      for (const { transport } of this.transports.values()) transport.close()
      this.transports.clear()
    }
    if (code !== undefined && this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason)
  }

  private send (message: OkReply | ErrorReply | Notification): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message))
  }

  notify (notification: Notification): void {
    this.send(notification)
  }

  /** `producerId` is back in this client's router: its consumers waiting for it are made again. */
  restoreConsumers (producerId: string): void {
    for (const [oldConsumerId, pending] of this.awaitingRestore) {
      if (pending.producerId === producerId && !pending.creating) void this.restoreConsumer(oldConsumerId, pending)
    }
  }

  /** `producerId` could not be restored in this client's router. */
  failRestores (producerId: string): void {
    for (const [oldConsumerId, pending] of this.awaitingRestore) {
      if (pending.producerId === producerId && !pending.creating) this.giveUpRestore(oldConsumerId, true)
    }
  }

  private async restoreConsumer (oldConsumerId: string, pending: PendingRestore): Promise<void> {
    pending.creating = true
    const { transport, producerId, rtpCapabilities } = pending
    let consumer: ms.Consumer
    try {
      // Paused, as by `consume`: the client resumes it once its side is ready.
      consumer = await transport.consume({ producerId, rtpCapabilities, paused: true })
    } catch (err) {
      log.debug('consumer of %s not restored: %s', producerId, describeError(err))
      if (this.awaitingRestore.get(oldConsumerId) === pending) this.giveUpRestore(oldConsumerId, true)
      return
    }
    // The client left (its transports closed) or closed the old consumer meanwhile: either
    // took it off the waiting list.
    if (this.awaitingRestore.get(oldConsumerId) !== pending) {
      consumer.close()
      return
    }
    this.giveUpRestore(oldConsumerId, false)
    this.send({ notification: 'consumerRestored', data: { oldConsumerId, consumer: this.adopt(consumer, pending) } })
  }

  /** Forgets a consumer waiting for its producer; with `tell`, the client hears it is closed for good. */
  private giveUpRestore (oldConsumerId: string, tell: boolean): void {
    const pending = this.awaitingRestore.get(oldConsumerId)
    if (pending === undefined) return
    clearTimeout(pending.timer)
    this.awaitingRestore.delete(oldConsumerId)
    if (tell) this.send({ notification: 'consumerClosed', data: { consumerId: oldConsumerId, producerId: pending.producerId, reason: 'producerclosed' } })
  }

  /** Keeps a new consumer of this client and tells it when its producer goes. */
  private adopt (consumer: ms.Consumer, args: ConsumeArgs): ConsumerInfo {
    const { transport, producerId, rtpCapabilities } = args
    this.consumers.set(consumer.id, consumer)
    consumer.observer.once('close', () => this.consumers.delete(consumer.id))
    consumer.once('producerclose', () => {
      const reason = this.owner.closeReasonOf(producerId)
      if (RESTORING_REASONS.has(reason) && !this.closed && !transport.closed) {
        const timer = setTimeout(() => this.giveUpRestore(consumer.id, true), this.owner.restoreTimeoutMs)
        timer.unref()
        this.awaitingRestore.set(consumer.id, { transport, producerId, rtpCapabilities, timer, creating: false })
      }
      this.send({ notification: 'consumerClosed', data: { consumerId: consumer.id, producerId, reason } })
    })
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters }
  }

  private fail (err: SignallingError): void {
    this.owner.countError(err.code)
    this.send({ id: err.requestId, ok: false, error: { name: err.code, message: err.message } })
  }

  private async onMessage (raw: RawData, isBinary: boolean): Promise<void> {
    let request: ClientRequest
    try {
      if (isBinary) throw new SignallingError('BadRequest', 'binary messages are not accepted')
      const text = Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8')
      request = decodeClientRequest(text, this.limits.maxMessageBytes)
    } catch (err) {
      this.fail(toSignallingError(err))
      return
    }
    if (this.pending >= this.limits.maxPendingRequests) {
      this.fail(new SignallingError('LimitExceeded', `more than ${this.limits.maxPendingRequests} requests pending`, request.id))
      return
    }
    this.pending++
    try {
      this.authorize(request)
      const handler = this.handlers[request.method] as (data: RequestDataMap[ClientMethod]) => Promise<ResponseDataMap[ClientMethod]>
      const data = await handler(request.data)
      this.send({ id: request.id, ok: true, data })
    } catch (err) {
      const e = toSignallingError(err)
      this.fail(new SignallingError(e.code, e.message, request.id))
    } finally {
      this.pending--
    }
  }

  private authorize (request: ClientRequest): void {
    const token = this.context.token
    if (this.options.authenticate === undefined || token === undefined) return
    const action = request.method === 'createWebRtcTransport' ? DIRECTION_ACTION[request.data.direction] : METHOD_ACTION[request.method]
    if (action !== null && !token.actions.includes(action)) {
      throw new SignallingError('Forbidden', `the token does not allow ${action} (${request.method})`)
    }
  }

  private async getRouter (): Promise<ms.Router> {
    if (this.routerPromise === undefined) {
      const select = this.options.router
      this.routerPromise = (async () => {
        let router: ms.Router
        try {
          router = typeof select === 'function' ? await select(this.context) : select
        } catch (err) {
          throw new SignallingError('Unavailable', `no router for this client: ${err instanceof Error ? err.message : String(err)}`)
        }
        if (router.closed) throw new SignallingError('Unavailable', 'the router is closed')
        if (!this.closed) {
          this.router = router
          this.owner.watchRouter(router, this)
        }
        return router
      })()
    }
    return await this.routerPromise
  }

  private transport (transportId: string, direction: TransportDirection): ms.WebRtcTransport {
    const entry = this.transports.get(transportId)
    if (entry === undefined) throw new SignallingError('NotFound', `no transport ${transportId} on this connection`)
    if (entry.direction !== direction) throw new SignallingError('BadRequest', `transport ${transportId} is a ${entry.direction} transport`)
    return entry.transport
  }

  private producer (producerId: string): ms.Producer {
    const producer = this.producers.get(producerId)
    if (producer === undefined) throw new SignallingError('NotFound', `no producer ${producerId} of this connection`)
    return producer
  }

  private consumer (consumerId: string): ms.Consumer {
    const consumer = this.consumers.get(consumerId)
    if (consumer === undefined) throw new SignallingError('NotFound', `no consumer ${consumerId} on this connection`)
    return consumer
  }

  /** Runs `create` with a slot of `what` reserved, so concurrent requests cannot pass the limit. */
  private async withSlot<T> (what: keyof ClientSession['reserved'], have: number, max: number, create: () => Promise<T>): Promise<T> {
    if (have + this.reserved[what] >= max) throw new SignallingError('LimitExceeded', `at most ${max} ${what} per connection`)
    this.reserved[what]++
    try {
      return await create()
    } finally {
      this.reserved[what]--
    }
  }

  private async resolveProducer (producerId: string, router: ms.Router): Promise<void> {
    const resolve = this.options.resolveProducer
    if (resolve === undefined) return
    try {
      await resolve(producerId, router)
    } catch (err) {
      const name = err instanceof Error ? err.name : ''
      const message = err instanceof Error ? err.message : String(err)
      if (name === 'ProducerNotFoundError' || name === 'NotFound') throw new SignallingError('NotFound', `producer ${producerId} not found: ${message}`)
      throw new SignallingError('Unavailable', `producer ${producerId} could not be brought to this router: ${message}`)
    }
  }

  private readonly handlers: Handlers = {
    getRouterRtpCapabilities: async () => (await this.getRouter()).rtpCapabilities,

    createWebRtcTransport: async ({ direction }) => {
      return await this.withSlot('transports', this.transports.size, this.limits.maxTransports, async () => {
        const router = await this.getRouter()
        const server = typeof this.options.webRtcServer === 'function' ? this.options.webRtcServer(router) : this.options.webRtcServer
        const appData = { clientDirection: direction }
        const transport = server !== undefined
          ? await router.createWebRtcTransport({ webRtcServer: server, preferUdp: true, appData })
          : await router.createWebRtcTransport({ listenInfos: this.options.listenInfos ?? [], preferUdp: true, appData })
        if (this.closed) {
          transport.close()
          throw new SignallingError('MediaError', 'connection closed')
        }
        this.transports.set(transport.id, { transport, direction })
        transport.observer.once('close', () => {
          this.transports.delete(transport.id)
          for (const [consumerId, pending] of this.awaitingRestore) if (pending.transport === transport) this.giveUpRestore(consumerId, false)
        })
        return {
          id: transport.id,
          iceParameters: transport.iceParameters,
          iceCandidates: transport.iceCandidates,
          dtlsParameters: transport.dtlsParameters
        }
      })
    },

    connectWebRtcTransport: async ({ transportId, dtlsParameters }) => {
      const entry = this.transports.get(transportId)
      if (entry === undefined) throw new SignallingError('NotFound', `no transport ${transportId} on this connection`)
      await entry.transport.connect({ dtlsParameters })
      return {}
    },

    produce: async ({ transportId, kind, rtpParameters, appData }) => {
      const transport = this.transport(transportId, 'send')
      return await this.withSlot('producers', this.producers.size, this.limits.maxProducers, async () => {
        const producer = await transport.produce({ kind, rtpParameters, appData })
        if (this.closed || transport.closed) {
          producer.close()
          throw new SignallingError('MediaError', 'transport closed')
        }
        this.producers.set(producer.id, producer)
        producer.observer.once('close', () => this.producers.delete(producer.id))
        return { id: producer.id }
      })
    },

    consume: async ({ transportId, producerId, rtpCapabilities }) => {
      const transport = this.transport(transportId, 'recv')
      return await this.withSlot('consumers', this.consumers.size + this.awaitingRestore.size, this.limits.maxConsumers, async () => {
        const router = await this.getRouter()
        await this.resolveProducer(producerId, router)
        if (!router.canConsume({ producerId, rtpCapabilities })) {
          // canConsume() says false for both; only the failure path pays for a dump.
          const dump = await router.dump()
          if (!dump.mapProducerIdConsumerIds.some((e) => e.key === producerId)) {
            throw new SignallingError('NotFound', `producer ${producerId} not found`)
          }
          throw new SignallingError('CannotConsume', `these rtpCapabilities cannot receive producer ${producerId}`)
        }
        // Paused until the client has set up its side and resumes: no key frame is lost.
        const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true })
        if (this.closed || transport.closed) {
          consumer.close()
          throw new SignallingError('MediaError', 'transport closed')
        }
        return this.adopt(consumer, { transport, producerId, rtpCapabilities })
      })
    },

    pauseConsumer: async ({ consumerId }) => { await this.consumer(consumerId).pause(); return {} },
    resumeConsumer: async ({ consumerId }) => { await this.consumer(consumerId).resume(); return {} },
    closeConsumer: async ({ consumerId }) => {
      // One waiting for its producer is no longer wanted: it will not be made again.
      if (this.awaitingRestore.has(consumerId)) this.giveUpRestore(consumerId, false)
      else this.consumer(consumerId).close()
      return {}
    },
    requestKeyFrame: async ({ consumerId }) => { await this.consumer(consumerId).requestKeyFrame(); return {} },
    pauseProducer: async ({ producerId }) => { await this.producer(producerId).pause(); return {} },
    resumeProducer: async ({ producerId }) => { await this.producer(producerId).resume(); return {} },
    closeProducer: async ({ producerId }) => { this.producer(producerId).close(); return {} },

    listProducers: async () => ({
      producers: [...this.producers.values()].map((p) => ({ id: p.id, kind: p.kind, paused: p.paused, appData: p.appData }))
    })
  }
}
