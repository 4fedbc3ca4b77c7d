// Cross-node pipes, both ends. One PipeTransport pair per (puller's router, origin node,
// origin's router), reused for every producer pulled over it:
//
//   puller                                   origin
//   pull {producerId, linkId}            →   find/create its PipeTransport, consume
//                                        ←   pull-ok {kind, rtpParameters, paused, appData, pipe}
//   (new pipe) create + connect its own PipeTransport
//   connect-pipe {pipeId, remote}        →   connect its PipeTransport
//   produce({ id: producerId, … })
//
// `linkId` is the puller's name for "my pipe from this router to you"; it is renewed when
// that pipe closes, so a late request can never land on a closing pipe. The pipe closes
// when its last producer goes (the puller sends close-pipe), when either side's router
// closes, when the peer disconnects, or when the puller never connects.
import { randomUUID } from 'node:crypto'
import { InvalidStateError, RemoteError } from '../errors.js'
import { createPipeTransport, endpointOf } from '../media/pipe-transport.js'
import type { PipeListen } from '../media/pipe-transport.js'
import type { ProducerRegistry } from '../media/producer-registry.js'
import type { Load, PipeEndpoint, PullOk, PullRequest, Redirect, Request, Response } from '../protocol/messages.js'
import type { ProducerEntry } from '../media/producer-registry.js'
import type { types as ms } from 'mediasoup'

/** Sends a request to a peer; rejects with RemoteError / RequestTimeoutError. */
export type Send = (peerId: string, request: Request) => Promise<Response>

/** Origin side of a pipe: consumers of local producers, sent to one puller's router. */
interface OutgoingPipe {
  transport: ms.PipeTransport
  peerId: string
  /** The puller's PipeTransport id, known once it connected. */
  remotePipeId?: string
  connected: PromiseWithResolvers<void>
  consumers: Map<string, ms.Consumer>
  connectTimer: NodeJS.Timeout
  /** True once the puller knows (or cannot be told) that this pipe closes. */
  closing: boolean
}

/** Puller side of a pipe: copies of the origin's producers in one local router. */
interface IncomingPipe {
  transport: ms.PipeTransport
  peerId: string
  router: ms.Router
  remotePipeId: string
  producers: Map<string, ms.Producer>
  /** Route (origin … upstream) of each copy. */
  routes: Map<string, string[]>
  /** Producers whose close came from the origin (no release to send back). */
  closedByOrigin: Set<string>
  closing: boolean
}

export interface PipeServiceInit {
  localPeerId: string
  registry: ProducerRegistry
  listen: PipeListen
  send: Send
  pipeConnectTimeoutMs: number
  onError: (err: Error) => void
  /** Placement: whether this node serves the pull itself (checked synchronously with the reservation). */
  canServe: (request: PullRequest, peerId: string, entry: ProducerEntry) => boolean
  /** Placement: the answer to a pull this node does not serve (redirect, capacity error). */
  redirect: (request: PullRequest, peerId: string, entry: ProducerEntry) => Promise<Response>
  /** Peer ids from the origin to this node for a producer this node has. */
  routeOf: (producerId: string) => string[]
  /** This node's load and its RTTs to peers, sent with every pull. */
  localLoad: () => Load
  /** Counts a pipe being set up in the load until the returned function is called. */
  holdLoad: (kind: ms.MediaKind) => () => void
  rtts: () => Record<string, number>
  /** Upstream or downstream of a producer changed. */
  onDistributionChange: (producerId: string) => void
}

/** What a pull got: a copy, or a redirect to follow. */
export type PullResult = { producer: ms.Producer, route: string[] } | { redirect: Redirect }

export class PipeService {
  private readonly outgoing = new Map<string, OutgoingPipe>()
  private readonly outgoingCreating = new Map<string, Promise<OutgoingPipe>>()
  private readonly incoming = new Map<string, IncomingPipe>()
  private readonly incomingCreating = new Map<string, Promise<IncomingPipe>>()
  private readonly linkIds = new Map<string, string>()
  /** `${producerId}/${peerId}` of admitted pulls whose consumer is being created. */
  private readonly pending = new Set<string>()

  constructor (private readonly init: PipeServiceInit) {}

  // ---- origin side ----

  /** Answers a pull: a consumer of the producer on the pipe toward the puller's router. */
  async handlePull (peerId: string, request: PullRequest): Promise<Response> {
    const { producerId } = request
    const entry = this.init.registry.entries(producerId)[0]
    if (entry === undefined) return { type: 'error', code: 'not-found', message: `no producer ${producerId} here` }
    const route = this.init.routeOf(producerId)
    if (route.includes(peerId)) return { type: 'error', code: 'loop', message: `you are upstream of my copy of ${producerId}` }
    const alreadyServed = this.downstreamOf(producerId).includes(peerId)
    if (!alreadyServed && !this.init.canServe(request, peerId, entry)) return await this.init.redirect(request, peerId, entry)
    // Until its consumer exists, an admitted pull counts as downstream and as load, so
    // concurrent pulls cannot all pass the fan-out and capacity checks (no await between
    // the check and this reservation).
    const pendingKey = `${producerId}/${peerId}`
    this.pending.add(pendingKey)
    const releaseLoad = this.init.holdLoad(entry.producer.kind)
    let consumer: ms.Consumer | undefined
    let endpoint: PipeEndpoint
    try {
      const pipe = await this.outgoingPipe(peerId, request.linkId, entry.router)
      consumer = pipe.consumers.get(producerId)
      if (consumer === undefined) {
        consumer = await pipe.transport.consume({ producerId })
        this.watchConsumer(pipe, consumer)
      }
      endpoint = endpointOf(pipe.transport)
    } finally {
      this.pending.delete(pendingKey)
      releaseLoad()
    }
    return {
      type: 'pull-ok',
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: entry.producer.appData,
      pipe: endpoint,
      route,
      ...this.init.localLoad()
    }
  }

  /** Peers this node sends `producerId` to. */
  downstreamOf (producerId: string): string[] {
    const peers = new Set<string>()
    for (const key of this.pending) if (key.startsWith(`${producerId}/`)) peers.add(key.slice(producerId.length + 1))
    for (const pipe of this.outgoing.values()) if (pipe.consumers.has(producerId)) peers.add(pipe.peerId)
    return [...peers]
  }

  /** The peer this node receives `producerId` from, with the route of its copy. */
  upstreamOf (producerId: string): { peerId: string, route: string[] } | undefined {
    for (const pipe of this.incoming.values()) {
      const route = pipe.routes.get(producerId)
      if (route !== undefined) return { peerId: pipe.peerId, route }
    }
    return undefined
  }

  private async outgoingPipe (peerId: string, linkId: string, router: ms.Router): Promise<OutgoingPipe> {
    const key = `${peerId}/${linkId}/${router.id}`
    const creating = this.outgoingCreating.get(key)
    if (creating !== undefined) return await creating
    const promise = (async () => {
      const transport = await createPipeTransport(router, this.init.listen)
      const pipe: OutgoingPipe = {
        transport,
        peerId,
        connected: Promise.withResolvers<void>(),
        consumers: new Map(),
        closing: false,
        connectTimer: setTimeout(() => {
          this.init.onError(new InvalidStateError(`pipe ${transport.id} to ${peerId} was never connected; closed`))
          transport.close()
        }, this.init.pipeConnectTimeoutMs)
      }
      pipe.connected.promise.catch(() => {})
      this.outgoing.set(transport.id, pipe)
      // Closed here (router closed, connect timeout): the puller's copies must close too.
      transport.observer.once('close', () => {
        clearTimeout(pipe.connectTimer)
        pipe.connected.reject(new InvalidStateError('pipe closed'))
        this.outgoing.delete(transport.id)
        this.outgoingCreating.delete(key)
        if (!pipe.closing && pipe.remotePipeId !== undefined) this.notify(peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
      })
      return pipe
    })()
    this.outgoingCreating.set(key, promise)
    promise.catch(() => this.outgoingCreating.delete(key))
    return await promise
  }

  private watchConsumer (pipe: OutgoingPipe, consumer: ms.Consumer): void {
    const producerId = consumer.producerId
    pipe.consumers.set(producerId, consumer)
    this.init.onDistributionChange(producerId)
    const notify = (event: 'pause' | 'resume' | 'close'): void => {
      // A pause before the puller connected would otherwise be lost: wait for the connect.
      pipe.connected.promise
        .then(async () => await this.init.send(pipe.peerId, { type: 'producer-event', pipeId: pipe.remotePipeId ?? '', producerId, event }))
        .catch((err) => { if (!pipe.transport.closed) this.init.onError(err) })
    }
    consumer.on('producerpause', () => notify('pause'))
    consumer.on('producerresume', () => notify('resume'))
    consumer.on('producerclose', () => {
      pipe.consumers.delete(producerId)
      notify('close')
    })
    consumer.observer.once('close', () => {
      if (pipe.consumers.get(producerId) === consumer) pipe.consumers.delete(producerId)
      this.init.onDistributionChange(producerId)
    })
  }

  async handleConnect (peerId: string, pipeId: string, remote: PipeEndpoint): Promise<Response> {
    const pipe = this.outgoing.get(pipeId)
    if (pipe?.peerId !== peerId) return { type: 'error', code: 'not-found', message: `no pipe ${pipeId} for you` }
    if (pipe.remotePipeId !== undefined) return { type: 'error', code: 'bad-message', message: `pipe ${pipeId} is already connected` }
    await pipe.transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters })
    pipe.remotePipeId = remote.pipeId
    clearTimeout(pipe.connectTimer)
    pipe.connected.resolve()
    return { type: 'ok' }
  }

  handleRelease (peerId: string, pipeId: string, producerId: string): Response {
    const pipe = this.outgoing.get(pipeId)
    if (pipe?.peerId !== peerId) return { type: 'error', code: 'not-found', message: `no pipe ${pipeId} for you` }
    pipe.consumers.get(producerId)?.close()
    pipe.consumers.delete(producerId)
    return { type: 'ok' }
  }

  // ---- puller side ----

  /**
   * Pulls `producerId` from `peerId` into `router`. Rejects with RemoteError (code
   * 'not-found' when the peer does not have it) and leaves nothing behind on failure.
   */
  async pull (peerId: string, producerId: string, router: ms.Router, recruited = false): Promise<PullResult> {
    const linkKey = `${router.id}/${peerId}`
    let linkId = this.linkIds.get(linkKey)
    if (linkId === undefined) this.linkIds.set(linkKey, linkId = randomUUID())
    const answer = await this.init.send(peerId, { type: 'pull', producerId, linkId, rtts: this.init.rtts(), recruited, ...this.init.localLoad() })
    if (answer.type === 'redirect' && answer.producerId === producerId) return { redirect: answer }
    if (answer.type !== 'pull-ok' || answer.producerId !== producerId) throw new RemoteError(peerId, 'bad-message', 'pull answered with something else than pull-ok or redirect')
    const self = this.init.localPeerId
    if (answer.route.includes(self) || answer.route.at(-1) !== peerId) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      throw new RemoteError(peerId, 'loop', `its copy of ${producerId} comes through this node (route ${answer.route.join(' > ')})`)
    }
    let pipe: IncomingPipe
    try {
      pipe = await this.incomingPipe(peerId, router, answer, linkKey)
    } catch (err) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      throw err
    }
    const done = this.init.registry.expectCopy(router, producerId)
    let producer: ms.Producer
    try {
      producer = await pipe.transport.produce({
        id: producerId,
        kind: answer.kind,
        rtpParameters: answer.rtpParameters,
        paused: answer.paused,
        appData: answer.appData
      })
    } catch (err) {
      done()
      this.release(peerId, answer.pipe.pipeId, producerId)
      this.closeIncomingIfEmpty(pipe)
      throw err
    }
    pipe.producers.set(producerId, producer)
    pipe.routes.set(producerId, answer.route)
    this.init.onDistributionChange(producerId)
    producer.observer.once('close', () => {
      pipe.producers.delete(producerId)
      pipe.routes.delete(producerId)
      this.init.onDistributionChange(producerId)
      if (pipe.closing) return
      if (!pipe.closedByOrigin.delete(producerId)) this.release(peerId, pipe.remotePipeId, producerId)
      this.closeIncomingIfEmpty(pipe)
    })
    return { producer, route: answer.route }
  }

  private async incomingPipe (peerId: string, router: ms.Router, answer: PullOk, linkKey: string): Promise<IncomingPipe> {
    const key = `${router.id}/${peerId}/${answer.pipe.pipeId}`
    const creating = this.incomingCreating.get(key)
    if (creating !== undefined) return await creating
    const promise = (async () => {
      const transport = await createPipeTransport(router, this.init.listen)
      try {
        await transport.connect({ ip: answer.pipe.ip, port: answer.pipe.port, srtpParameters: answer.pipe.srtpParameters })
        await this.init.send(peerId, { type: 'connect-pipe', pipeId: answer.pipe.pipeId, remote: endpointOf(transport) })
      } catch (err) {
        transport.close()
        throw err
      }
      const pipe: IncomingPipe = {
        transport, peerId, router, remotePipeId: answer.pipe.pipeId, producers: new Map(), routes: new Map(), closedByOrigin: new Set(), closing: false
      }
      this.incoming.set(transport.id, pipe)
      // Closed by the router, the peer, or us: forget it, and make the next pull start a new pipe.
      transport.observer.once('close', () => {
        this.incoming.delete(transport.id)
        this.incomingCreating.delete(key)
        this.linkIds.delete(linkKey)
        if (!pipe.closing) {
          pipe.closing = true
          this.notify(peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
        }
      })
      return pipe
    })()
    this.incomingCreating.set(key, promise)
    promise.catch(() => this.incomingCreating.delete(key))
    return await promise
  }

  private closeIncomingIfEmpty (pipe: IncomingPipe): void {
    if (pipe.producers.size > 0 || pipe.closing) return
    pipe.closing = true
    this.incomingCreating.delete(`${pipe.router.id}/${pipe.peerId}/${pipe.remotePipeId}`)
    this.linkIds.delete(`${pipe.router.id}/${pipe.peerId}`)
    pipe.transport.close()
    this.notify(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
  }

  handleProducerEvent (peerId: string, pipeId: string, producerId: string, event: 'pause' | 'resume' | 'close'): Response {
    const pipe = this.incoming.get(pipeId)
    const producer = pipe?.peerId === peerId ? pipe.producers.get(producerId) : undefined
    if (pipe === undefined || producer === undefined) return { type: 'error', code: 'not-found', message: `no producer ${producerId} on pipe ${pipeId}` }
    if (event === 'pause') void producer.pause().catch(this.init.onError)
    else if (event === 'resume') void producer.resume().catch(this.init.onError)
    else {
      pipe.closedByOrigin.add(producerId)
      producer.close()
    }
    return { type: 'ok' }
  }

  // ---- both sides ----

  /** The peer closed its end of the pipe `pipeId` (ours). */
  handleClosePipe (peerId: string, pipeId: string): Response {
    const pipe = this.outgoing.get(pipeId) ?? this.incoming.get(pipeId)
    if (pipe?.peerId !== peerId) return { type: 'error', code: 'not-found', message: `no pipe ${pipeId} for you` }
    pipe.closing = true
    pipe.transport.close()
    return { type: 'ok' }
  }

  /** The peer is gone: close every pipe with it, without telling it. */
  closePeer (peerId: string): void {
    for (const pipe of [...this.outgoing.values(), ...this.incoming.values()]) {
      if (pipe.peerId !== peerId) continue
      pipe.closing = true
      pipe.transport.close()
    }
  }

  /** Closes every pipe, telling each peer (best effort, bounded by the request timeout). */
  async closeAll (): Promise<void> {
    const notices: Array<Promise<unknown>> = []
    for (const pipe of this.incoming.values()) {
      pipe.closing = true
      pipe.transport.close()
      notices.push(this.init.send(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId }).catch(() => {}))
    }
    for (const pipe of this.outgoing.values()) {
      pipe.closing = true
      pipe.transport.close()
      if (pipe.remotePipeId !== undefined) notices.push(this.init.send(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId }).catch(() => {}))
    }
    await Promise.all(notices)
  }

  /** Counts for status and tests. */
  stats (): { outgoingPipes: number, incomingPipes: number, outgoingConsumers: number, incomingProducers: number } {
    let outgoingConsumers = 0
    let incomingProducers = 0
    for (const p of this.outgoing.values()) outgoingConsumers += p.consumers.size
    for (const p of this.incoming.values()) incomingProducers += p.producers.size
    return { outgoingPipes: this.outgoing.size, incomingPipes: this.incoming.size, outgoingConsumers, incomingProducers }
  }

  private release (peerId: string, pipeId: string, producerId: string): void {
    this.notify(peerId, { type: 'release', pipeId, producerId })
  }

  private notify (peerId: string, request: Request): void {
    this.init.send(peerId, request).catch((err) => {
      // A peer that is gone already closed its side; nothing is left to tell.
      if (!(err instanceof RemoteError && err.code === 'not-found')) this.init.onError(err)
    })
  }
}
