// The origin side of cross-node pipes: consumers of this node's producers (originals or
// copies it relays), each on the PipeTransport toward one puller's router. One pipe per
// (peer, the peer's link, our router): the peer's `linkId` names its pipe from one of its
// routers to us, and is renewed when that pipe closes.
//
// A new pipe connects to the puller's offered transport at once when the pull carried an
// offer, otherwise when the puller sends connect-pipe; one that is never connected is
// closed after `pipeConnectTimeoutMs`.
//
// Data producers go on the same pipes: their consumers are data consumers on the pipe's
// SCTP association, watched for the same events (pause, resume, close).
import { InvalidStateError, RequestRefusedError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import { endpointOf } from '../../media/pipe-transport.js'
import { reportUnless } from './notices.js'
import type { Notices } from './notices.js'
import type { SpareTransports } from './spare-transports.js'
import type { PipeEndpoint } from '../../protocol/messages.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:pipes')

/** At stop, a peer that does not hear of a pipe closing finds out when the connection ends. */
export const logStopNotice = (err: Error): void => log.trace('close-pipe at stop not delivered: %s', describeError(err))

/** How long a pipe may carry no report from the peer's worker before the worker counts as silent. */
const REPORTS_WINDOW_MS = 8000

export interface OutgoingPipe {
  readonly transport: ms.PipeTransport
  readonly peerId: string
  readonly linkId: string
  readonly router: ms.Router
  /** The puller's PipeTransport id, known once it is connected (or being connected). */
  remotePipeId?: string
  readonly connected: PromiseWithResolvers<void>
  /** By producer id: consumers of media producers, data consumers of data producers. */
  readonly consumers: Map<string, PipeConsumer>
  readonly connectTimer: NodeJS.Timeout
  /** Settles when a connect to the puller's offer, under way, is done (or at once). */
  ready: Promise<void>
  /** Pulls being served on it right now. */
  users: number
  /** True once the puller knows (or cannot be told) that this pipe closes. */
  closing: boolean
}

/** What a pipe carries toward a peer for one producer. */
export type PipeConsumer = ms.Consumer | ms.DataConsumer

/** What the puller needs to make its copy. */
export interface ServedConsumer {
  consumer: PipeConsumer
  /** This node's end of the pipe. */
  endpoint: PipeEndpoint
  /** The puller's transport this pipe is connected to, once it is. */
  peerPipeId?: string
}

interface PeerPipes {
  /** By the peer's linkId, then by our router. */
  readonly links: Map<string, Map<ms.Router, Promise<OutgoingPipe>>>
  /** Transports of the peer a pipe of ours is connected to: one pipe each. */
  readonly usedOffers: Set<string>
}

export interface OutgoingPipesInit {
  spares: SpareTransports
  notices: Notices
  pipeConnectTimeoutMs: number
  /** Background failures (a notice that could not be sent). */
  report: (err: Error) => void
  /** The downstream of a producer changed. */
  onDistributionChange: (producerId: string) => void
  /**
   * True when this node's copy of the producer closed because its own path broke (it is
   * getting it again): the nodes below are told `upstream-lost`, not that it closed.
   */
  lostUpstream: (producerId: string) => boolean
}

export class OutgoingPipes {
  /** By our transport id (the `pipeId` peers name). */
  private readonly byId = new Map<string, OutgoingPipe>()
  /** Bytes received on each pipe at the last hearsFrom(), and when they last changed. */
  private readonly bytesHeard = new WeakMap<OutgoingPipe, { bytes: number, changedAt: number }>()
  private readonly peers = new Map<string, PeerPipes>()
  /** Peers whose admitted pull of a producer is being set up, by producer id. */
  private readonly admitted = new Map<string, Set<string>>()

  constructor (private readonly init: OutgoingPipesInit) {}

  /**
   * Counts `peerId` as downstream of `producerId` until the returned function is called:
   * concurrent pulls cannot all pass the fan-out check before their consumers exist.
   */
  reserve (producerId: string, peerId: string): () => void {
    let peers = this.admitted.get(producerId)
    if (peers === undefined) this.admitted.set(producerId, peers = new Set())
    peers.add(peerId)
    return () => {
      peers.delete(peerId)
      if (peers.size === 0 && this.admitted.get(producerId) === peers) this.admitted.delete(producerId)
    }
  }

  /** Peers this node sends `producerId` to (or is setting up a pipe of it for). */
  downstreamOf (producerId: string): string[] {
    const peers = new Set(this.admitted.get(producerId))
    for (const pipe of this.byId.values()) if (pipe.consumers.has(producerId)) peers.add(pipe.peerId)
    return [...peers]
  }

  /**
   * True while something (RTCP reports of its worker) keeps arriving on a pipe to `peerId`:
   * the peer's worker is alive even when its Node.js process answers no ping. mediasoup
   * reports at most every 1.5 s for video and 7.5 s for audio (5 s, randomised ×0.5-1.5),
   * so the bytes must have grown within REPORTS_WINDOW_MS; a pipe read for the first time
   * gets that long before it counts as silent.
   */
  async hearsFrom (peerId: string): Promise<boolean> {
    const now = performance.now()
    let heard = false
    for (const pipe of this.byId.values()) {
      if (pipe.peerId !== peerId || pipe.transport.closed) continue
      try {
        const [stats] = await pipe.transport.getStats() as Array<{ bytesReceived?: number }>
        const bytes = stats?.bytesReceived ?? 0
        let seen = this.bytesHeard.get(pipe)
        if (seen === undefined || bytes !== seen.bytes) this.bytesHeard.set(pipe, seen = { bytes, changedAt: now })
        if (now - seen.changedAt < REPORTS_WINDOW_MS) heard = true
      } catch (err) {
        log.trace('stats of pipe %s not read: %s', pipe.transport.id, describeError(err))
      }
    }
    return heard
  }

  /** Pipes toward `peerId`, open or being made. */
  pipeCount (peerId: string): number {
    let n = 0
    for (const routers of this.peers.get(peerId)?.links.values() ?? []) n += routers.size
    return n
  }

  /** Whether a pull on this link into `router` would make a new pipe. */
  isNewPipe (peerId: string, linkId: string, router: ms.Router): boolean {
    return this.peers.get(peerId)?.links.get(linkId)?.get(router) === undefined
  }

  /** Consumers of `producerId` toward `peerId`, on any of its links. */
  copiesFor (peerId: string, producerId: string): number {
    let n = 0
    for (const pipe of this.byId.values()) if (pipe.peerId === peerId && pipe.consumers.has(producerId)) n++
    return n
  }

  /** Whether the pipe on this link into `router` already carries `producerId`. */
  carries (peerId: string, linkId: string, router: ms.Router, producerId: string): boolean {
    for (const pipe of this.byId.values()) {
      if (pipe.peerId === peerId && pipe.linkId === linkId && pipe.router === router && pipe.consumers.has(producerId)) return true
    }
    return false
  }

  /**
   * A consumer of `producerId` (in `router`) on the pipe toward the peer's link, made when
   * missing; the pipe is made too when missing, connected to `offer` when given. On
   * failure nothing it made is left: the consumer is closed, and so is a pipe left empty.
   */
  async serve (peerId: string, linkId: string, router: ms.Router, producerId: string, offer: PipeEndpoint | undefined, data = false): Promise<ServedConsumer> {
    const pipe = await this.open(peerId, linkId, router, offer)
    pipe.users++
    try {
      let consumer = pipe.consumers.get(producerId)
      if (consumer === undefined) {
        // The consumer is made while a new pipe connects: both are worker round trips.
        const consuming: Promise<PipeConsumer> = data ? pipe.transport.consumeData({ dataProducerId: producerId }) : pipe.transport.consume({ producerId })
        const [made, ready] = await Promise.allSettled([consuming, pipe.ready])
        if (made.status === 'rejected') throw made.reason
        consumer = made.value
        // A consumer answered after its transport closed is never closed by mediasoup.
        if (ready.status === 'rejected' || pipe.transport.closed) {
          consumer.close()
          throw ready.status === 'rejected' ? ready.reason : new InvalidStateError(`pipe ${pipe.transport.id} closed`)
        }
        this.watchConsumer(pipe, consumer)
      } else {
        await pipe.ready
      }
      return { consumer, endpoint: endpointOf(pipe.transport), peerPipeId: pipe.remotePipeId }
    } catch (err) {
      if (pipe.users === 1 && pipe.consumers.size === 0) this.close(pipe, 'its first pull failed')
      throw err
    } finally {
      pipe.users--
    }
  }

  private async open (peerId: string, linkId: string, router: ms.Router, offer: PipeEndpoint | undefined): Promise<OutgoingPipe> {
    let peer = this.peers.get(peerId)
    if (peer === undefined) this.peers.set(peerId, peer = { links: new Map(), usedOffers: new Set() })
    let routers = peer.links.get(linkId)
    if (routers === undefined) peer.links.set(linkId, routers = new Map())
    const existing = routers.get(router)
    if (existing !== undefined) return await existing
    const opening = this.create(peerId, linkId, router, offer, peer)
    routers.set(router, opening)
    opening.catch(() => this.forget(peerId, linkId, router, opening))
    return await opening
  }

  private async create (peerId: string, linkId: string, router: ms.Router, offer: PipeEndpoint | undefined, peer: PeerPipes): Promise<OutgoingPipe> {
    const transport = await this.init.spares.take(router)
    const pipe: OutgoingPipe = {
      transport,
      peerId,
      linkId,
      router,
      connected: Promise.withResolvers<void>(),
      consumers: new Map(),
      ready: Promise.resolve(),
      users: 0,
      closing: false,
      connectTimer: setTimeout(() => {
        log.warn('pipe %s to %s was never connected: closed', transport.id, peerId)
        transport.close()
      }, this.init.pipeConnectTimeoutMs)
    }
    // Waiters (producer events) only act on success; the close path below rejects it.
    pipe.connected.promise.catch(() => {})
    this.byId.set(transport.id, pipe)
    // Closed here (router closed, connect timeout, peer gone): the puller's copies must close too.
    transport.observer.once('close', () => {
      clearTimeout(pipe.connectTimer)
      pipe.connected.reject(new InvalidStateError('pipe closed'))
      this.byId.delete(transport.id)
      const routers = this.peers.get(peerId)?.links.get(linkId)
      const entry = routers?.get(router)
      if (entry !== undefined) this.forget(peerId, linkId, router, entry)
      if (pipe.remotePipeId !== undefined) peer.usedOffers.delete(pipe.remotePipeId)
      if (!pipe.closing && pipe.remotePipeId !== undefined) this.init.notices.notify(peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
    })
    if (offer !== undefined && !peer.usedOffers.has(offer.pipeId)) {
      peer.usedOffers.add(offer.pipeId)
      pipe.ready = this.connect(pipe, offer).catch((err: Error) => {
        transport.close()
        throw err
      })
      // Every pull on this pipe awaits `ready` and gets the failure.
      pipe.ready.catch(() => {})
    }
    return pipe
  }

  private forget (peerId: string, linkId: string, router: ms.Router, entry: Promise<OutgoingPipe>): void {
    const peer = this.peers.get(peerId)
    const routers = peer?.links.get(linkId)
    if (peer === undefined || routers?.get(router) !== entry) return
    routers.delete(router)
    if (routers.size === 0) peer.links.delete(linkId)
    if (peer.links.size === 0 && peer.usedOffers.size === 0) this.peers.delete(peerId)
  }

  private async connect (pipe: OutgoingPipe, remote: PipeEndpoint): Promise<void> {
    // Set first: the pull-ok of an offered pipe names it while the connect is under way.
    pipe.remotePipeId = remote.pipeId
    await pipe.transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters })
    clearTimeout(pipe.connectTimer)
    pipe.connected.resolve()
  }

  private watchConsumer (pipe: OutgoingPipe, consumer: PipeConsumer): void {
    const producerId = 'kind' in consumer ? consumer.producerId : consumer.dataProducerId
    pipe.consumers.set(producerId, consumer)
    this.init.onDistributionChange(producerId)
    const notify = (event: 'pause' | 'resume' | 'close'): void => {
      const reason = event === 'close' && this.init.lostUpstream(producerId) ? { reason: 'upstream-lost' as const } : {}
      // A pause before the puller connected would otherwise be lost: wait for the connect.
      pipe.connected.promise.then(() => {
        this.init.notices.notify(pipe.peerId, { type: 'producer-event', pipeId: pipe.remotePipeId ?? '', producerId, event, ...reason },
          reportUnless(() => !pipe.transport.closed, this.init.report, `producer-event ${event}`))
      }, () => log.trace('producer %s %s not sent: pipe %s closed first', producerId, event, pipe.transport.id))
    }
    const producerClosed = (): void => {
      pipe.consumers.delete(producerId)
      notify('close')
    }
    const closed = (): void => {
      if (pipe.consumers.get(producerId) === consumer) pipe.consumers.delete(producerId)
      this.init.onDistributionChange(producerId)
    }
    if ('kind' in consumer) {
      consumer.on('producerpause', () => notify('pause'))
      consumer.on('producerresume', () => notify('resume'))
      consumer.on('producerclose', producerClosed)
      consumer.observer.once('close', closed)
    } else {
      consumer.on('dataproducerpause', () => notify('pause'))
      consumer.on('dataproducerresume', () => notify('resume'))
      consumer.on('dataproducerclose', producerClosed)
      consumer.observer.once('close', closed)
    }
  }

  /** connect-pipe: the puller connects a pipe made without an offer. */
  async connectPipe (peerId: string, pipeId: string, remote: PipeEndpoint): Promise<void> {
    const pipe = this.pipeOf(peerId, pipeId)
    if (pipe.remotePipeId !== undefined) throw new RequestRefusedError('bad-message', `pipe ${pipeId} is already connected`)
    this.peers.get(peerId)?.usedOffers.add(remote.pipeId)
    await this.connect(pipe, remote)
  }

  /** release: the puller closed its copy of `producerId`. */
  release (peerId: string, pipeId: string, producerId: string): void {
    const pipe = this.pipeOf(peerId, pipeId)
    pipe.consumers.get(producerId)?.close()
    pipe.consumers.delete(producerId)
  }

  /** close-pipe from the puller; false when `pipeId` is not one of ours toward it. */
  closeByPeer (peerId: string, pipeId: string): boolean {
    const pipe = this.byId.get(pipeId)
    if (pipe?.peerId !== peerId) return false
    pipe.closing = true
    pipe.transport.close()
    return true
  }

  private pipeOf (peerId: string, pipeId: string): OutgoingPipe {
    const pipe = this.byId.get(pipeId)
    if (pipe?.peerId !== peerId) throw new RequestRefusedError('not-found', `no pipe ${pipeId} for you`)
    return pipe
  }

  private close (pipe: OutgoingPipe, why: string): void {
    log.debug('pipe %s to %s closed: %s', pipe.transport.id, pipe.peerId, why)
    pipe.transport.close()
  }

  /** The peer is gone: close every pipe toward it, without telling it. */
  closePeer (peerId: string): void {
    for (const pipe of [...this.byId.values()]) {
      if (pipe.peerId !== peerId) continue
      pipe.closing = true
      pipe.transport.close()
    }
  }

  /** Closes every pipe, telling each peer (notices). */
  closeAll (): void {
    for (const pipe of [...this.byId.values()]) {
      pipe.closing = true
      pipe.transport.close()
      if (pipe.remotePipeId !== undefined) this.init.notices.notify(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId }, logStopNotice)
    }
  }

  /** Every (peer, media producer) this node sends, with the consumer that sends it (data consumers aside). */
  streams (): Array<{ peerId: string, producerId: string, consumer: ms.Consumer }> {
    return [...this.byId.values()].flatMap((pipe) => [...pipe.consumers].flatMap(([producerId, consumer]) =>
      'kind' in consumer ? [{ peerId: pipe.peerId, producerId, consumer }] : []))
  }

  stats (): { pipes: number, consumers: number } {
    let consumers = 0
    for (const pipe of this.byId.values()) consumers += pipe.consumers.size
    return { pipes: this.byId.size, consumers }
  }
}
