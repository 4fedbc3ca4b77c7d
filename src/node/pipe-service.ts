// Cross-node pipes, both ends. One PipeTransport pair per (puller's router, origin node,
// origin's router), reused for every producer pulled over it:
//
//   puller                                   origin
//   pull {producerId, linkId, offer}     →   find/create its PipeTransport (a new one
//                                            connects to the offered one), consume
//                                        ←   pull-ok {kind, rtpParameters, paused, appData, pipe, peerPipeId}
//   connect the offered PipeTransport to `pipe`
//   produce({ id: producerId, … })
//
// `offer` is an unconnected PipeTransport of the puller, sent while it has no pipe from
// that node into the router, so that a new pipe costs one round trip. When the origin
// makes a new pipe without using an offer (the puller's pipe goes to another router of
// the origin), the puller connects a new transport and sends connect-pipe instead.
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
import type { RequestOptions } from '../protocol/rpc.js'
import type { types as ms } from 'mediasoup'

/** Sends a request to a peer; rejects with RemoteError / RequestTimeoutError. */
export type Send = (peerId: string, request: Request, options?: RequestOptions) => Promise<Response>

/** Origin side of a pipe: consumers of local producers, sent to one puller's router. */
interface OutgoingPipe {
  transport: ms.PipeTransport
  peerId: string
  /** The puller's PipeTransport id, known once it connected. */
  remotePipeId?: string
  connected: PromiseWithResolvers<void>
  consumers: Map<string, ms.Consumer>
  connectTimer: NodeJS.Timeout
  /** Settles when a connect to the puller's offer, under way, is done (or at once). */
  ready: Promise<void>
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
  /** Settles when this end is connected (it may still be connecting while copies are made). */
  ready: Promise<void>
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
  /** Origin side: `${peerId}/${pipeId}` of puller transports a pipe of ours is connected to. */
  private readonly usedOffers = new Set<string>()
  /** Puller side: the unconnected transport offered on a link (`${routerId}/${peerId}`) until a pipe takes it. */
  private readonly offers = new Map<string, Promise<ms.PipeTransport>>()
  /** Either side: an unconnected transport per router, made ahead of the next new pipe end. */
  private readonly spares = new Map<string, Promise<ms.PipeTransport>>()
  private closed = false
  /** Notices sent and not answered yet (see notify()). */
  private readonly notices = new Set<Promise<void>>()
  /** `${producerId}/${peerId}` of admitted pulls whose consumer is being created. */
  private readonly pending = new Set<string>()
  /** Puller side: `${peerId}/${producerId}` of pulls under way, by how many. */
  private readonly pulling = new Map<string, number>()

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
    let peerPipeId: string | undefined
    try {
      const pipe = await this.outgoingPipe(peerId, request.linkId, entry.router, request.offer)
      consumer = pipe.consumers.get(producerId)
      if (consumer === undefined) {
        // The consumer is made while the new pipe connects: both are worker round trips.
        consumer = (await Promise.all([pipe.transport.consume({ producerId }), pipe.ready]))[0]
        this.watchConsumer(pipe, consumer)
      } else {
        await pipe.ready
      }
      endpoint = endpointOf(pipe.transport)
      peerPipeId = pipe.remotePipeId
    } finally {
      this.pending.delete(pendingKey)
      releaseLoad()
    }
    this.prepare(entry.router)
    return {
      type: 'pull-ok',
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: entry.producer.appData,
      pipe: endpoint,
      ...(peerPipeId === undefined ? {} : { peerPipeId }),
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

  private async outgoingPipe (peerId: string, linkId: string, router: ms.Router, offer: PipeEndpoint | undefined): Promise<OutgoingPipe> {
    const key = `${peerId}/${linkId}/${router.id}`
    const creating = this.outgoingCreating.get(key)
    if (creating !== undefined) return await creating
    const promise = (async () => {
      const transport = await this.takeSpare(router)
      const pipe: OutgoingPipe = {
        transport,
        peerId,
        connected: Promise.withResolvers<void>(),
        consumers: new Map(),
        ready: Promise.resolve(),
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
        if (pipe.remotePipeId !== undefined) this.usedOffers.delete(`${peerId}/${pipe.remotePipeId}`)
        if (!pipe.closing && pipe.remotePipeId !== undefined) this.notify(peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
      })
      // One transport of the puller can be the end of one pipe only.
      const offerKey = offer === undefined ? undefined : `${peerId}/${offer.pipeId}`
      if (offer !== undefined && offerKey !== undefined && !this.usedOffers.has(offerKey)) {
        this.usedOffers.add(offerKey)
        pipe.ready = this.connectOutgoing(pipe, offer).catch((err: Error) => {
          transport.close()
          throw err
        })
        pipe.ready.catch(() => {})
      }
      return pipe
    })()
    this.outgoingCreating.set(key, promise)
    promise.catch(() => this.outgoingCreating.delete(key))
    return await promise
  }

  private async connectOutgoing (pipe: OutgoingPipe, remote: PipeEndpoint): Promise<void> {
    // Set first: the pull-ok of an offered pipe names it while the connect is under way.
    pipe.remotePipeId = remote.pipeId
    await pipe.transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters })
    clearTimeout(pipe.connectTimer)
    pipe.connected.resolve()
  }

  private watchConsumer (pipe: OutgoingPipe, consumer: ms.Consumer): void {
    const producerId = consumer.producerId
    pipe.consumers.set(producerId, consumer)
    this.init.onDistributionChange(producerId)
    const notify = (event: 'pause' | 'resume' | 'close'): void => {
      // A pause before the puller connected would otherwise be lost: wait for the connect.
      pipe.connected.promise.then(() => {
        this.notify(pipe.peerId, { type: 'producer-event', pipeId: pipe.remotePipeId ?? '', producerId, event }, (err) => { if (!pipe.transport.closed) this.init.onError(err) })
      }, () => {})
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
    await this.connectOutgoing(pipe, remote)
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
    const offer = this.hasIncoming(router, peerId) ? undefined : await this.offerFor(linkKey, router)
    const pullKey = `${peerId}/${producerId}`
    this.pulling.set(pullKey, (this.pulling.get(pullKey) ?? 0) + 1)
    let answer: Response
    try {
      answer = await this.init.send(peerId, {
        type: 'pull', producerId, linkId, rtts: this.init.rtts(), recruited, ...this.init.localLoad(), ...(offer === undefined ? {} : { offer: endpointOf(offer) })
      }, { onLateAnswer: (late) => this.undoLatePull(peerId, producerId, router, offer, late) })
    } finally {
      const left = (this.pulling.get(pullKey) ?? 1) - 1
      if (left === 0) this.pulling.delete(pullKey)
      else this.pulling.set(pullKey, left)
    }
    if (answer.type === 'redirect' && answer.producerId === producerId) return { redirect: answer }
    if (answer.type !== 'pull-ok' || answer.producerId !== producerId) throw new RemoteError(peerId, 'bad-message', 'pull answered with something else than pull-ok or redirect')
    const self = this.init.localPeerId
    if (answer.route.includes(self) || answer.route.at(-1) !== peerId) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      this.abandonOffer(peerId, router, answer, offer)
      throw new RemoteError(peerId, 'loop', `its copy of ${producerId} comes through this node (route ${answer.route.join(' > ')})`)
    }
    let pipe: IncomingPipe
    try {
      pipe = await this.incomingPipe(peerId, router, answer, linkKey, offer)
    } catch (err) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      throw err
    }
    const done = this.init.registry.expectCopy(router, producerId)
    let producer: ms.Producer
    try {
      // The copy is made while a new pipe connects: both are worker round trips.
      producer = (await Promise.all([pipe.transport.produce({
        id: producerId,
        kind: answer.kind,
        rtpParameters: answer.rtpParameters,
        paused: answer.paused,
        appData: answer.appData
      }), pipe.ready]))[0]
    } catch (err) {
      done()
      this.release(peerId, answer.pipe.pipeId, producerId)
      this.closeIncomingIfEmpty(pipe)
      throw err
    }
    pipe.producers.set(producerId, producer)
    pipe.routes.set(producerId, answer.route)
    this.prepare(router)
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

  private async incomingPipe (peerId: string, router: ms.Router, answer: PullOk, linkKey: string, offer: ms.PipeTransport | undefined): Promise<IncomingPipe> {
    const key = `${router.id}/${peerId}/${answer.pipe.pipeId}`
    const creating = this.incomingCreating.get(key)
    if (creating !== undefined) return await creating
    const viaOffer = answer.peerPipeId !== undefined && answer.peerPipeId === offer?.id
    if (answer.peerPipeId !== undefined && !viaOffer) throw new RemoteError(peerId, 'bad-message', `pipe ${answer.pipe.pipeId} is connected to a transport this node did not offer`)
    if (viaOffer) this.offers.delete(linkKey)
    const promise = (async () => {
      const transport = viaOffer ? offer! : await this.takeSpare(router)
      const connect = async (): Promise<void> => {
        try {
          await transport.connect({ ip: answer.pipe.ip, port: answer.pipe.port, srtpParameters: answer.pipe.srtpParameters })
          // The origin made this pipe without an offer: tell it where to send.
          if (!viaOffer) await this.init.send(peerId, { type: 'connect-pipe', pipeId: answer.pipe.pipeId, remote: endpointOf(transport) })
        } catch (err) {
          transport.close()
          if (viaOffer) this.notify(peerId, { type: 'close-pipe', pipeId: answer.pipe.pipeId })
          throw err
        }
      }
      // An offered pipe is connected at the origin already: copies may be made meanwhile.
      const ready = viaOffer ? connect() : Promise.resolve(await connect())
      ready.catch(() => {})
      const pipe: IncomingPipe = {
        transport, peerId, router, remotePipeId: answer.pipe.pipeId, producers: new Map(), routes: new Map(), closedByOrigin: new Set(), ready, closing: false
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

  /**
   * A pull-ok that came after the pull ran out of time: the peer made a consumer (and
   * maybe connected a pipe to our offer) for a copy nobody will make, which would hold one
   * of its fan-out slots for as long as the pipe lives. Released, unless a pull of the same
   * producer from that peer is under way or done meanwhile (it gets the same consumer).
   */
  private undoLatePull (peerId: string, producerId: string, router: ms.Router, offer: ms.PipeTransport | undefined, late: Response): void {
    if (late.type !== 'pull-ok' || late.producerId !== producerId || this.closed) return
    if (this.pulling.has(`${peerId}/${producerId}`)) return
    for (const pipe of this.incoming.values()) {
      if (pipe.peerId === peerId && pipe.remotePipeId === late.pipe.pipeId && pipe.producers.has(producerId)) return
    }
    this.release(peerId, late.pipe.pipeId, producerId)
    this.abandonOffer(peerId, router, late, offer)
  }

  /** A pipe the origin connected to our offer, which this node will not use after all: close both ends. */
  private abandonOffer (peerId: string, router: ms.Router, answer: PullOk, offer: ms.PipeTransport | undefined): void {
    if (offer === undefined || answer.peerPipeId !== offer.id || this.incomingCreating.has(`${router.id}/${peerId}/${answer.pipe.pipeId}`)) return
    // Closing it also takes it out of `offers` (forgetOnClose), if it is still the link's offer.
    offer.close()
    this.notify(peerId, { type: 'close-pipe', pipeId: answer.pipe.pipeId })
  }

  private hasIncoming (router: ms.Router, peerId: string): boolean {
    for (const pipe of this.incoming.values()) if (pipe.router === router && pipe.peerId === peerId && !pipe.closing) return true
    return false
  }

  /**
   * Makes an unconnected transport in `router` ahead of its next offer, while the pull
   * looks for the producer (one per router at most).
   */
  prepare (router: ms.Router): void {
    if (this.spares.has(router.id) || router.closed || this.closed) return
    this.spares.set(router.id, this.unconnected(router, this.spares, router.id))
  }

  /**
   * An unconnected transport of `router` for a new pipe end, either side: the spare when
   * there is one, else a new one. A pull, once answered or done, makes the next spare.
   */
  private async takeSpare (router: ms.Router): Promise<ms.PipeTransport> {
    const spare = this.spares.get(router.id)
    this.spares.delete(router.id)
    return await (spare ?? createPipeTransport(router, this.init.listen))
  }

  /** The transport offered on a link: the one offered before if unused, else a spare. */
  private async offerFor (linkKey: string, router: ms.Router): Promise<ms.PipeTransport> {
    let offer = this.offers.get(linkKey)
    if (offer === undefined) {
      offer = this.takeSpare(router)
      this.offers.set(linkKey, offer)
      offer.catch(() => { if (this.offers.get(linkKey) === offer) this.offers.delete(linkKey) })
      this.forgetOnClose(offer, this.offers, linkKey)
    }
    return await offer
  }

  private unconnected (router: ms.Router, map: Map<string, Promise<ms.PipeTransport>>, key: string): Promise<ms.PipeTransport> {
    const promise = createPipeTransport(router, this.init.listen)
    promise.catch(() => { if (map.get(key) === promise) map.delete(key) })
    this.forgetOnClose(promise, map, key)
    return promise
  }

  /** Drops a waiting transport from `map` when it closes (its router closed). */
  private forgetOnClose (promise: Promise<ms.PipeTransport>, map: Map<string, Promise<ms.PipeTransport>>, key: string): void {
    promise.then((t) => t.observer.once('close', () => { if (map.get(key) === promise) map.delete(key) }), () => {})
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
    this.closed = true
    const underWay = [...this.notices]
    for (const waiting of [...this.offers.values(), ...this.spares.values()]) void waiting.then((t) => t.close(), () => {})
    this.offers.clear()
    this.spares.clear()
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
    await Promise.all([...notices, ...underWay])
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

  /**
   * Sends a notice without waiting for it. Notices under way are tracked so that
   * closeAll() lets them finish before the node closes its connections under them.
   */
  private notify (peerId: string, request: Request, onError = (err: Error): void => {
    // A peer that is gone already closed its side; nothing is left to tell.
    if (!(err instanceof RemoteError && err.code === 'not-found')) this.init.onError(err)
  }): void {
    const notice = this.init.send(peerId, request).then(() => {}, onError)
    this.notices.add(notice)
    void notice.finally(() => this.notices.delete(notice))
  }
}
