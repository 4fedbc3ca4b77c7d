// One client of the signalling (one WebSocket) and everything it created: its requests are
// checked against its token's grants and its limits, then answered; its transports (and
// with them its producers and consumers) close when it leaves. Consumers of a copy whose
// path broke are made again when the copy is restored (consumer-restores.ts). Data
// producers and data consumers (data channels) live on the same transports, created with
// SCTP when the client gives its sctpCapabilities.
import { WebSocket } from 'ws'
import type http from 'node:http'
import type { RawData } from 'ws'
import type { types as ms } from 'mediasoup'
import { RESTORING_REASONS, SignallingError, decodeClientRequest } from './messages.js'
import type {
  ClientMethod, ClientRequest, ConsumerCloseReason, ConsumerInfo, DataConsumerInfo, ErrorReply, Notification, OkReply, ProducerInfo, RequestDataMap,
  ResponseDataMap, SignallingErrorName, TransportDirection
} from './messages.js'
import { TokenBucket } from '../protocol/token-bucket.js'
import { MAX_BUFFERED_BYTES, Refusal } from './client-limits.js'
import type { ClientSignallingLimits, RefusalReason } from './client-limits.js'
import { authorize, checkListedRoom, checkRoom, publishedAppData } from './grants.js'
import { ConsumerRestores } from './consumer-restores.js'
import type { ConsumeArgs } from './consumer-restores.js'
import type { ClientTokenClaims } from './token.js'
import type { RoomSource } from './room-source.js'
import type { RoomEvent, RoomWatch } from '../node/swarm-node.js'
import { createLogger } from '../logger.js'

const log = createLogger('signalling')

/** What a router selector gets to choose the router of a new connection. */
export interface ClientContext {
  /** The HTTP upgrade request (URL, headers, remote address). */
  request: http.IncomingMessage
  /** The verified token claims when `authenticate` is set. */
  token?: ClientTokenClaims
}

export type RouterSelector = (context: ClientContext) => ms.Router | Promise<ms.Router>

/** What `resolveProducer` may resolve with: the producer in the router, or node.pipeToRouter()'s result. */
export type ResolvedProducer = ms.Producer | { pipeProducer: ms.Producer }

/** What `resolveDataProducer` may resolve with: the data producer in the router, or node.pipeToRouter()'s result. */
export type ResolvedDataProducer = ms.DataProducer | { pipeDataProducer: ms.DataProducer }

/** The options of the signalling a session uses. */
export interface SessionOptions {
  router: ms.Router | RouterSelector
  webRtcServer?: ms.WebRtcServer | ((router: ms.Router) => ms.WebRtcServer | undefined)
  listenInfos?: ms.TransportListenInfo[]
  resolveProducer?: (producerId: string, router: ms.Router) => Promise<ResolvedProducer | undefined | void>
  resolveDataProducer?: (dataProducerId: string, router: ms.Router) => Promise<ResolvedDataProducer | undefined | void>
  rooms?: RoomSource
}

/** Rooms one connection may list (and so follow) at once. */
export const MAX_ROOMS_PER_CONNECTION = 4

/** A room this connection listed: its producers now, kept by the watch's events. */
interface ListedRoom { watch: Promise<RoomWatch>, producers: Map<string, ProducerInfo> }

/** What a session needs of the signalling that owns it. */
export interface SessionOwner {
  readonly restoreTimeoutMs: number
  countError: (name: SignallingErrorName) => void
  countRefusal: (reason: RefusalReason) => void
  /** A lookup slot of the client's address, token subject and of the node, released by calling the result. @throws Refusal */
  lookup: (request: http.IncomingMessage, subject: string | undefined) => () => void
  watchRouter: (router: ms.Router, session: ClientSession) => void
  unwatchRouter: (router: ms.Router, session: ClientSession) => void
  closeReasonOf: (producerId: string) => ConsumerCloseReason
  /** Remembers a producer of a client, so its room is known to other clients. */
  adoptProducer: (producer: ms.Producer) => void
  producerById: (producerId: string) => ms.Producer | undefined
  /** A consume of `producerId` in `router` is under way until the result is called. */
  consumeStarting: (router: ms.Router, producerId: string) => () => void
  /** Closes `copy` (brought into `router` for a refused consume or consumeData) unless something uses it. */
  releaseUnusedCopy: (router: ms.Router, copy: ms.Producer | ms.DataProducer) => Promise<void>
  /** Remembers a data producer of a client, so its room is known to other clients. */
  adoptDataProducer: (dataProducer: ms.DataProducer) => void
  dataProducerById: (dataProducerId: string) => ms.DataProducer | undefined
}

interface TransportEntry { transport: ms.WebRtcTransport, direction: TransportDirection }

type Handlers = { [M in ClientMethod]: (data: RequestDataMap[M]) => Promise<ResponseDataMap[M]> }

function toSignallingError (err: unknown): SignallingError {
  if (err instanceof SignallingError) return err
  if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) return new SignallingError('BadRequest', err.message)
  return new SignallingError('MediaError', err instanceof Error ? err.message : String(err))
}

/** The producer resolveProducer gave; `piped`: a copy node.pipeToRouter() made, which the signalling may release. */
function producerOf (resolved: ResolvedProducer | undefined | void): { producer: ms.Producer, piped: boolean } | undefined {
  if (resolved === undefined || resolved === null || typeof resolved !== 'object') return undefined
  return 'pipeProducer' in resolved ? { producer: resolved.pipeProducer, piped: true } : { producer: resolved, piped: false }
}

/** One connected client and everything it created. @internal */
export class ClientSession {
  private readonly transports = new Map<string, TransportEntry>()
  private readonly producers = new Map<string, ms.Producer>()
  private readonly consumers = new Map<string, ms.Consumer>()
  private readonly dataProducers = new Map<string, ms.DataProducer>()
  private readonly dataConsumers = new Map<string, ms.DataConsumer>()
  private readonly rooms = new Map<string, ListedRoom>()
  /** Closed consumers waiting for their producer to be restored; each keeps its slot of maxConsumers. */
  private readonly restores: ConsumerRestores
  /** Objects being created, counted against the limits before they exist. */
  private readonly reserved = { transports: 0, producers: 0, consumers: 0, 'data-producers': 0, 'data-consumers': 0 }
  private readonly bucket: TokenBucket
  private pending = 0
  private lookups = 0
  private routerPromise: Promise<ms.Router> | undefined
  private context: ClientContext | undefined
  private closed = false
  private router: ms.Router | undefined

  /**
   * `auth` resolves with the token's claims (undefined without authentication) or rejects
   * when the token is refused (the signalling then closes the socket); requests wait for it.
   */
  constructor (
    private readonly owner: SessionOwner,
    private readonly ws: WebSocket,
    private readonly request: http.IncomingMessage,
    private readonly auth: Promise<ClientTokenClaims | undefined>,
    private readonly options: SessionOptions,
    private readonly limits: ClientSignallingLimits
  ) {
    this.bucket = new TokenBucket(limits.requestsPerSecond, limits.requestBurst)
    this.restores = new ConsumerRestores({ timeoutMs: owner.restoreTimeoutMs, send: (n) => this.send(n), adopt: (c, a) => this.adopt(c, a) })
    auth.then((token) => { this.context = { request, token } }, () => {})
    ws.on('message', (raw, isBinary) => { void this.onMessage(raw, isBinary) })
  }

  /** Closes the client's transports (cascading to producers and consumers), then the socket if asked. */
  close (code?: number, reason?: string): void {
    if (!this.closed) {
      this.closed = true
      if (this.router !== undefined) this.owner.unwatchRouter(this.router, this)
      this.restores.clear()
      for (const { watch } of this.rooms.values()) void watch.then((w) => w.stop(), () => {})
      this.rooms.clear()
      for (const { transport } of this.transports.values()) transport.close()
      this.transports.clear()
    }
    if (code !== undefined && this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason)
  }

  private send (message: OkReply | ErrorReply | Notification): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    // A client that sends but does not read would make its unsent replies grow without end.
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      log.debug('closing a client that does not read its replies (%d bytes unsent)', this.ws.bufferedAmount)
      this.ws.terminate()
      return
    }
    this.ws.send(JSON.stringify(message))
  }

  /** Sent only once the client is admitted (its token checked). */
  notify (notification: Notification): void {
    if (this.context !== undefined) this.send(notification)
  }

  /** `producerId` is back in this client's router: its consumers waiting for it are made again. */
  restoreConsumers (producerId: string): void {
    this.restores.restore(producerId)
  }

  /** `producerId` could not be restored in this client's router. */
  failRestores (producerId: string): void {
    this.restores.fail(producerId)
  }

  /** Keeps a new consumer of this client and tells it when its producer goes. */
  private adopt (consumer: ms.Consumer, args: ConsumeArgs): ConsumerInfo {
    const { transport, producerId } = args
    this.consumers.set(consumer.id, consumer)
    consumer.observer.once('close', () => this.consumers.delete(consumer.id))
    consumer.once('producerclose', () => {
      const reason = this.owner.closeReasonOf(producerId)
      if (RESTORING_REASONS.has(reason) && !this.closed && !transport.closed) this.restores.wait(consumer.id, args)
      this.send({ notification: 'consumerClosed', data: { consumerId: consumer.id, producerId, reason } })
    })
    consumer.on('layerschange', (layers) => {
      this.send({ notification: 'consumerLayersChanged', data: { consumerId: consumer.id, layers: layers ?? null } })
    })
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters }
  }

  private fail (err: SignallingError): void {
    this.owner.countError(err.code)
    if (err instanceof Refusal) this.owner.countRefusal(err.reason)
    this.send({ id: err.requestId, ok: false, error: { name: err.code, message: err.message } })
  }

  private async onMessage (raw: RawData, isBinary: boolean): Promise<void> {
    // Every message costs a token, junk included; one refused still gets its id back when it has one.
    const allowed = this.bucket.take()
    const rateRefusal = (): Refusal => new Refusal('request-rate', `more than ${this.limits.requestsPerSecond} requests per second (bursts of ${this.limits.requestBurst})`)
    let request: ClientRequest
    try {
      if (isBinary) throw new SignallingError('BadRequest', 'binary messages are not accepted')
      const text = Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8')
      request = decodeClientRequest(text, this.limits.maxMessageBytes)
    } catch (err) {
      this.fail(allowed ? toSignallingError(err) : withId(rateRefusal(), err instanceof SignallingError ? err.requestId : null))
      return
    }
    if (!allowed) return this.fail(withId(rateRefusal(), request.id))
    if (this.pending >= this.limits.maxPendingRequests) {
      return this.fail(withId(new Refusal('pending-requests', `more than ${this.limits.maxPendingRequests} requests pending`), request.id))
    }
    this.pending++
    try {
      let token: ClientTokenClaims | undefined
      try {
        token = await this.auth
      } catch {
        return // refused: the socket is closing
      }
      if (token !== undefined) authorize(token.grants, request)
      const handler = this.handlers[request.method] as (data: RequestDataMap[ClientMethod]) => Promise<ResponseDataMap[ClientMethod]>
      const data = await handler(request.data)
      this.send({ id: request.id, ok: true, data })
    } catch (err) {
      this.fail(withId(toSignallingError(err), request.id))
    } finally {
      this.pending--
    }
  }

  private get grants (): ClientTokenClaims['grants'] | undefined {
    return this.context?.token?.grants
  }

  private async getRouter (): Promise<ms.Router> {
    if (this.routerPromise === undefined) {
      const select = this.options.router
      const context = this.context as ClientContext
      this.routerPromise = (async () => {
        let router: ms.Router
        try {
          router = typeof select === 'function' ? await select(context) : select
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
    if (have + this.reserved[what] >= max) throw new Refusal(what, `at most ${max} ${what} per connection`)
    this.reserved[what]++
    try {
      return await create()
    } finally {
      this.reserved[what]--
    }
  }

  /** A lookup slot of this connection and of the node. @throws Refusal past either limit */
  private takeLookup (): () => void {
    if (this.lookups >= this.limits.maxLookupsPerConnection) {
      throw new Refusal('lookups-per-connection', `at most ${this.limits.maxLookupsPerConnection} consumes of producers not in this node at once per connection`)
    }
    const releaseNodeSlot = this.owner.lookup(this.request, this.context?.token?.sub)
    this.lookups++
    return () => {
      this.lookups--
      releaseNodeSlot()
    }
  }

  private async resolveProducer (producerId: string, router: ms.Router): Promise<ReturnType<typeof producerOf>> {
    const resolve = this.options.resolveProducer
    if (resolve === undefined) return undefined
    try {
      return producerOf(await resolve(producerId, router))
    } catch (err) {
      const name = err instanceof Error ? err.name : ''
      const message = err instanceof Error ? err.message : String(err)
      // The library's errors name the producer already: say it once.
      const named = message.includes(producerId)
      if (name === 'ProducerNotFoundError' || name === 'NotFound') throw new SignallingError('NotFound', named ? message : `producer ${producerId} not found: ${message}`)
      throw new SignallingError('Unavailable', named ? `could not bring it to this router: ${message}` : `producer ${producerId} could not be brought to this router: ${message}`)
    }
  }

  /**
   * Brings `producerId` into `router` if it is elsewhere (a lookup, bounded), checks the
   * client may consume it, and consumes it (paused).
   */
  private async consumeIn (
    router: ms.Router, transport: ms.WebRtcTransport, producerId: string, rtpCapabilities: ms.RtpCapabilities, endConsume: () => void
  ): Promise<ConsumerInfo> {
    const wasHere = router.canConsume({ producerId, rtpCapabilities })
    const endLookup = wasHere || this.options.resolveProducer === undefined ? undefined : this.takeLookup()
    let resolved: ReturnType<typeof producerOf>
    try {
      resolved = await this.resolveProducer(producerId, router)
    } finally {
      endLookup?.()
    }
    if (!router.canConsume({ producerId, rtpCapabilities })) {
      // canConsume() says false for both; only the failure path pays for a dump.
      const dump = await router.dump()
      if (!dump.mapProducerIdConsumerIds.some((e) => e.key === producerId)) {
        throw new SignallingError('NotFound', `producer ${producerId} not found`)
      }
      throw new SignallingError('CannotConsume', `these rtpCapabilities cannot receive producer ${producerId}`)
    }
    try {
      checkRoom(this.grants, producerId, resolved?.producer ?? this.owner.producerById(producerId))
    } catch (err) {
      // A copy brought in only for a client that may not consume it is not kept.
      if (!wasHere && resolved?.piped === true) {
        endConsume()
        await this.owner.releaseUnusedCopy(router, resolved.producer)
      }
      throw err
    }
    // Paused until the client has set up its side and resumes: no key frame is lost.
    const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true })
    if (this.closed || transport.closed) {
      consumer.close()
      throw new SignallingError('MediaError', 'transport closed')
    }
    return this.adopt(consumer, { transport, producerId, rtpCapabilities })
  }

  private readonly handlers: Handlers = {
    getRouterRtpCapabilities: async () => (await this.getRouter()).rtpCapabilities,

    createWebRtcTransport: async ({ direction, sctpCapabilities }) => {
      return await this.withSlot('transports', this.transports.size, this.limits.maxTransports, async () => {
        const router = await this.getRouter()
        const server = typeof this.options.webRtcServer === 'function' ? this.options.webRtcServer(router) : this.options.webRtcServer
        const appData = { clientDirection: direction }
        const sctp = sctpCapabilities === undefined ? {} : { enableSctp: true, numSctpStreams: sctpCapabilities.numStreams }
        const transport = server !== undefined
          ? await router.createWebRtcTransport({ webRtcServer: server, preferUdp: true, appData, ...sctp })
          : await router.createWebRtcTransport({ listenInfos: this.options.listenInfos ?? [], preferUdp: true, appData, ...sctp })
        if (this.closed) {
          transport.close()
          throw new SignallingError('MediaError', 'connection closed')
        }
        this.transports.set(transport.id, { transport, direction })
        transport.observer.once('close', () => {
          this.transports.delete(transport.id)
          this.restores.dropTransport(transport)
        })
        return {
          id: transport.id,
          iceParameters: transport.iceParameters,
          iceCandidates: transport.iceCandidates,
          dtlsParameters: transport.dtlsParameters,
          ...(transport.sctpParameters === undefined ? {} : { sctpParameters: transport.sctpParameters })
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
      const withRoom = publishedAppData(this.grants, appData)
      return await this.withSlot('producers', this.producers.size, this.limits.maxProducers, async () => {
        const producer = await transport.produce({ kind, rtpParameters, appData: withRoom })
        if (this.closed || transport.closed) {
          producer.close()
          throw new SignallingError('MediaError', 'transport closed')
        }
        this.producers.set(producer.id, producer)
        this.owner.adoptProducer(producer)
        producer.observer.once('close', () => this.producers.delete(producer.id))
        return { id: producer.id }
      })
    },

    consume: async ({ transportId, producerId, rtpCapabilities }) => {
      const transport = this.transport(transportId, 'recv')
      return await this.withSlot('consumers', this.consumers.size + this.restores.size, this.limits.maxConsumers, async () => {
        const router = await this.getRouter()
        const endConsume = this.owner.consumeStarting(router, producerId)
        try {
          return await this.consumeIn(router, transport, producerId, rtpCapabilities, endConsume)
        } finally {
          endConsume()
        }
      })
    },

    pauseConsumer: async ({ consumerId }) => { await this.consumer(consumerId).pause(); return {} },
    resumeConsumer: async ({ consumerId }) => { await this.consumer(consumerId).resume(); return {} },
    closeConsumer: async ({ consumerId }) => {
      // One waiting for its producer is no longer wanted: it will not be made again.
      if (this.restores.has(consumerId)) this.restores.giveUp(consumerId, false)
      else this.consumer(consumerId).close()
      return {}
    },
    requestKeyFrame: async ({ consumerId }) => { await this.consumer(consumerId).requestKeyFrame(); return {} },
    pauseProducer: async ({ producerId }) => { await this.producer(producerId).pause(); return {} },
    resumeProducer: async ({ producerId }) => { await this.producer(producerId).resume(); return {} },
    closeProducer: async ({ producerId }) => { this.producer(producerId).close(); return {} },

    listProducers: async ({ room }) => {
      if (room === undefined) {
        return { producers: [...this.producers.values()].map((p) => ({ id: p.id, kind: p.kind, paused: p.paused, appData: p.appData })) }
      }
      checkListedRoom(this.grants, room)
      return { producers: await this.listRoom(room) }
    },

    setConsumerPreferredLayers: async ({ consumerId, spatialLayer, temporalLayer }) => {
      await this.consumer(consumerId).setPreferredLayers(temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer })
      return {}
    },
    setConsumerPriority: async ({ consumerId, priority }) => { await this.consumer(consumerId).setPriority(priority); return {} },

    produceData: async ({ transportId, sctpStreamParameters, label, protocol, appData }) => {
      const transport = this.sctpTransport(transportId, 'send')
      const withRoom = publishedAppData(this.grants, appData)
      return await this.withSlot('data-producers', this.dataProducers.size, this.limits.maxDataProducers, async () => {
        const dataProducer = await transport.produceData({ sctpStreamParameters, label, protocol, appData: withRoom })
        if (this.closed || transport.closed) {
          dataProducer.close()
          throw new SignallingError('MediaError', 'transport closed')
        }
        this.dataProducers.set(dataProducer.id, dataProducer)
        this.owner.adoptDataProducer(dataProducer)
        dataProducer.observer.once('close', () => this.dataProducers.delete(dataProducer.id))
        return { id: dataProducer.id }
      })
    },

    consumeData: async ({ transportId, dataProducerId }) => {
      const transport = this.sctpTransport(transportId, 'recv')
      return await this.withSlot('data-consumers', this.dataConsumers.size, this.limits.maxDataConsumers, async () => {
        const router = await this.getRouter()
        // Consumes of media and data share the count: one id space.
        const endConsume = this.owner.consumeStarting(router, dataProducerId)
        try {
          return await this.consumeDataIn(router, transport, dataProducerId, endConsume)
        } finally {
          endConsume()
        }
      })
    },

    closeDataProducer: async ({ dataProducerId }) => {
      const dataProducer = this.dataProducers.get(dataProducerId)
      if (dataProducer === undefined) throw new SignallingError('NotFound', `no data producer ${dataProducerId} of this connection`)
      dataProducer.close()
      return {}
    },

    closeDataConsumer: async ({ dataConsumerId }) => {
      const dataConsumer = this.dataConsumers.get(dataConsumerId)
      if (dataConsumer === undefined) throw new SignallingError('NotFound', `no data consumer ${dataConsumerId} on this connection`)
      dataConsumer.close()
      return {}
    }
  }

  /** A transport of this connection in `direction` that was created with sctpCapabilities. */
  private sctpTransport (transportId: string, direction: TransportDirection): ms.WebRtcTransport {
    const transport = this.transport(transportId, direction)
    if (transport.sctpParameters === undefined) throw new SignallingError('BadRequest', `transport ${transportId} was created without sctpCapabilities: it carries no data channels`)
    return transport
  }

  /**
   * Brings `dataProducerId` into `router` if it is elsewhere (a lookup, bounded), checks the
   * client may consume it, and consumes it.
   */
  private async consumeDataIn (router: ms.Router, transport: ms.WebRtcTransport, dataProducerId: string, endConsume: () => void): Promise<DataConsumerInfo> {
    const resolve = this.options.resolveDataProducer
    let resolved: ms.DataProducer | undefined
    let piped = false
    // Only a room grant can refuse it after a pull; only then is it worth a dump to know
    // whether a copy it brings was there before (a router lists no data producers).
    const wasHere = this.grants?.room === undefined || resolve === undefined ||
      (await router.dump()).mapDataProducerIdDataConsumerIds.some((e) => e.key === dataProducerId)
    if (resolve !== undefined) {
      const endLookup = this.takeLookup()
      try {
        const result = await resolve(dataProducerId, router)
        if (result !== undefined && result !== null) {
          piped = 'pipeDataProducer' in result
          resolved = 'pipeDataProducer' in result ? result.pipeDataProducer : result
        }
      } catch (err) {
        const name = err instanceof Error ? err.name : ''
        const message = err instanceof Error ? err.message : String(err)
        if (name === 'ProducerNotFoundError' || name === 'NotFound') throw new SignallingError('NotFound', `data producer ${dataProducerId} not found: ${message}`)
        throw new SignallingError('Unavailable', `data producer ${dataProducerId} could not be brought to this router: ${message}`)
      } finally {
        endLookup()
      }
    }
    try {
      checkRoom(this.grants, dataProducerId, resolved ?? this.owner.dataProducerById(dataProducerId))
    } catch (err) {
      // A copy brought in only for a client that may not consume it is not kept (unless in use).
      if (!wasHere && piped && resolved !== undefined) {
        endConsume()
        await this.owner.releaseUnusedCopy(router, resolved)
      }
      throw err
    }
    let dataConsumer: ms.DataConsumer
    try {
      dataConsumer = await transport.consumeData({ dataProducerId })
    } catch (err) {
      // mediasoup names no class for an id its router does not have.
      if (err instanceof Error && !(err instanceof TypeError) && /not found/i.test(err.message)) throw new SignallingError('NotFound', `data producer ${dataProducerId} not found`)
      throw err
    }
    const { sctpStreamParameters } = dataConsumer
    if (this.closed || transport.closed || sctpStreamParameters === undefined) {
      dataConsumer.close()
      throw new SignallingError('MediaError', sctpStreamParameters === undefined ? `data consumer of ${dataProducerId} has no SCTP stream` : 'transport closed')
    }
    this.dataConsumers.set(dataConsumer.id, dataConsumer)
    dataConsumer.observer.once('close', () => this.dataConsumers.delete(dataConsumer.id))
    dataConsumer.once('dataproducerclose', () => {
      this.send({ notification: 'dataConsumerClosed', data: { dataConsumerId: dataConsumer.id, dataProducerId } })
    })
    return { id: dataConsumer.id, dataProducerId, sctpStreamParameters, label: dataConsumer.label, protocol: dataConsumer.protocol }
  }

  /**
   * The producers of `room` swarm-wide; from the first listing on, the client gets
   * `newProducer` and `producerClosed` for the room until it disconnects.
   */
  private async listRoom (room: string): Promise<ProducerInfo[]> {
    const source = this.options.rooms
    if (source === undefined) throw new SignallingError('Unavailable', 'this signalling has no room source: rooms cannot be listed')
    let listed = this.rooms.get(room)
    if (listed === undefined) {
      if (this.rooms.size >= MAX_ROOMS_PER_CONNECTION) throw new SignallingError('LimitExceeded', `at most ${MAX_ROOMS_PER_CONNECTION} rooms listed per connection`)
      const producers = new Map<string, ProducerInfo>()
      const onEvent = (event: RoomEvent): void => {
        if (event.type === 'newproducer') {
          producers.set(event.producer.id, event.producer)
          this.notify({ notification: 'newProducer', data: { room, producer: event.producer } })
        } else if (producers.delete(event.producerId)) {
          this.notify({ notification: 'producerClosed', data: { room, producerId: event.producerId } })
        }
      }
      const watch = source.watchRoom(room, onEvent).then((w) => {
        for (const p of w.producers) producers.set(p.id, p)
        // The connection closed meanwhile: nothing to follow.
        if (this.closed) w.stop()
        return w
      })
      this.rooms.set(room, listed = { watch, producers })
      watch.catch(() => { if (this.rooms.get(room) === listed) this.rooms.delete(room) })
    }
    try {
      await listed.watch
    } catch (err) {
      if (err instanceof Error && err.name === 'RoomLimitError') throw new SignallingError('LimitExceeded', err.message)
      throw new SignallingError('Unavailable', `room ${JSON.stringify(room)} could not be listed: ${err instanceof Error ? err.message : String(err)}`)
    }
    return [...listed.producers.values()]
  }
}

function withId (err: SignallingError, requestId: ClientRequest['id'] | null): SignallingError {
  if (err instanceof Refusal) return new Refusal(err.reason, err.message, requestId)
  return new SignallingError(err.code, err.message, requestId)
}
