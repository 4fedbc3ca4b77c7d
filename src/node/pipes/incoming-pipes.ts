// The puller side of cross-node pipes: copies of other nodes' producers in this node's
// routers, one PipeTransport per (our router, the origin's pipe). One pull of one
// producer from one peer:
//
//   puller                                   origin (outgoing-pipes.ts)
//   pull {producerId, linkId, offer}     →   find/create its PipeTransport (a new one
//                                            connects to the offered one), consume
//                                        ←   pull-ok {kind, rtpParameters, paused, appData, pipe, peerPipeId}
//   connect the offered PipeTransport to `pipe`
//   produce({ id: producerId, … })
//
// A data producer is pulled the same way (`data: true`, answered `data-pull-ok`), on the
// same pipes: its copy is a data producer on the pipe's SCTP association.
//
// `offer` is an unconnected PipeTransport of ours, sent while we have no pipe from that
// peer into the router, so that a new pipe costs one round trip. When the origin makes a
// new pipe without using the offer (our pipe goes to another router of the origin), we
// connect a new transport and send connect-pipe instead. `linkId` is our name for "my pipe
// from this router to you"; it is renewed when that pipe closes, so a late request can
// never land on a closing pipe. The pipe closes when its last copy goes (we send
// close-pipe), when either side's router closes, or when the peer is gone.
import { randomUUID } from 'node:crypto'
import { InvalidStateError, RemoteError, RequestRefusedError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import { endpointOf } from '../../media/pipe-transport.js'
import { onceClosed } from '../../media/producer-registry.js'
import { logStopNotice } from './outgoing-pipes.js'
import type { Notices, Send } from './notices.js'
import type { SpareTransports } from './spare-transports.js'
import type { AnyProducer, ProducerRegistry } from '../../media/producer-registry.js'
import type { CloseReason, DataPullOk, Load, PullOk, Redirect, Response } from '../../protocol/messages.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:pipes')

/** A producer re-created here from a peer's pipe. */
export interface Copy {
  /** A media producer, or a data producer (pulled with `data`). */
  producer: AnyProducer
  /** Peer ids from the origin to the peer we receive it from. */
  route: string[]
}

/**
 * Why a copy closed:
 * - `released`: this node closed it (the app, its router); the upstream is told
 * - `producerclosed`: the producer closed at its origin
 * - `upstreamlost`: the path broke (the upstream node is gone, frozen, stopping, or lost
 *   its own upstream): the producer may still exist and the copy can be restored
 * - `moving`: closed to be replaced at once by a copy from another node (a drain)
 * - `stopping`: this node stops
 */
export type CopyCloseReason = 'released' | 'producerclosed' | 'upstreamlost' | 'moving' | 'stopping'

export interface CopyClosed {
  producerId: string
  router: ms.Router
  /** The node the copy came from. */
  upstream: string
  /** Peer ids from the origin to the upstream. */
  route: string[]
  reason: CopyCloseReason
  /** With `upstreamlost`: the upstream is alive and getting the producer again itself. */
  upstreamRestoring: boolean
  /** performance.now() of the close. */
  at: number
  /** The copy was a data producer. */
  data: boolean
}

export interface IncomingPipe {
  readonly transport: ms.PipeTransport
  readonly peerId: string
  readonly router: ms.Router
  /** The peer's PipeTransport at the other end. */
  readonly remotePipeId: string
  /** By producer id. */
  readonly copies: Map<string, Copy>
  /** Why single copies are being closed (set before their close). */
  readonly closeReasons: Map<string, { reason: CopyCloseReason, upstreamRestoring: boolean }>
  /** Why the whole pipe is being closed; its copies close for this reason. */
  closeReason?: CopyCloseReason
  /** Settles when this end is connected (copies may be made while it connects). */
  readonly ready: Promise<void>
  closing: boolean
}

/** Our pipe intent toward one peer from one router. */
interface Link {
  linkId: string
  /** The unconnected transport offered on this link until a pipe takes it. */
  offer?: Promise<ms.PipeTransport>
}

/** What a pull got: a copy, or a redirect to follow. */
export type PullResult = { producer: AnyProducer, route: string[] } | { redirect: Redirect }

export interface IncomingPipesInit {
  localPeerId: string
  registry: ProducerRegistry
  spares: SpareTransports
  notices: Notices
  send: Send
  /** This node's load, sent with every pull. */
  localLoad: () => Load
  /** This node's RTTs to its peers, sent with every pull (the origin ranks relays with them). */
  rtts: () => Record<string, number>
  /** The upstream of a producer changed. */
  onDistributionChange: (producerId: string) => void
  /** A copy closed, with the reason (restoring it is the caller's business). */
  onCopyClosed: (event: CopyClosed) => void
  /** Longest wait for a pipe's SCTP association before a data copy counts as failed. */
  sctpConnectTimeoutMs: number
}

export interface PullOptions {
  /** This node was recruited by the peer to relay (its pull may use the reserve). */
  recruited?: boolean
  /**
   * A copy of the same producer in the same router that the new one replaces: it is
   * closed (reason `moving`) right before the new copy is made, once the new pipe is ready.
   */
  replacing?: AnyProducer
  /** The node this pull moves off (sent as `leaving`). */
  leaving?: string
  /** `producerId` names a data producer. */
  data?: boolean
}

/** Resolves once the pipe's SCTP association is connected; rejects when it fails, closes or takes longer than `timeoutMs`. */
async function sctpConnected (transport: ms.PipeTransport, timeoutMs: number): Promise<void> {
  if (transport.sctpState === 'connected') return
  const { promise, resolve, reject } = Promise.withResolvers<void>()
  const onState = (state: ms.SctpState): void => {
    if (state === 'connected') resolve()
    else if (state === 'failed' || state === 'closed') reject(new InvalidStateError(`SCTP association ${state}`))
  }
  const onClose = (): void => reject(new InvalidStateError('closed before its SCTP association was up'))
  const timer = setTimeout(() => reject(new InvalidStateError(`SCTP association not up after ${timeoutMs} ms`)), timeoutMs)
  transport.on('sctpstatechange', onState)
  transport.observer.once('close', onClose)
  try {
    await promise
  } finally {
    clearTimeout(timer)
    transport.off('sctpstatechange', onState)
    transport.observer.off('close', onClose)
  }
}

export class IncomingPipes {
  /** By our transport id (the `pipeId` peers name). */
  private readonly byId = new Map<string, IncomingPipe>()
  private readonly links = new Map<ms.Router, Map<string, Link>>()
  /** Pipes being set up, by peer, then by the peer's pipe id. */
  private readonly creating = new Map<string, Map<string, Promise<IncomingPipe>>>()
  /** Pulls under way, by peer, then by producer id: how many. */
  private readonly pulling = new Map<string, Map<string, number>>()
  private closed = false

  constructor (private readonly init: IncomingPipesInit) {}

  /**
   * Pulls `producerId` from `peerId` into `router`. Rejects with RemoteError (code
   * 'not-found' when the peer does not have it) and leaves nothing behind on failure.
   */
  async pull (peerId: string, producerId: string, router: ms.Router, { recruited = false, replacing, leaving, data = false }: PullOptions = {}): Promise<PullResult> {
    const link = this.linkOf(router, peerId)
    const offer = this.hasPipe(router, peerId) ? undefined : await this.offerOn(link, router)
    this.countPull(peerId, producerId, 1)
    let answer: Response
    try {
      answer = await this.init.send(peerId, {
        type: 'pull',
        producerId,
        linkId: link.linkId,
        rtts: this.init.rtts(),
        recruited,
        ...this.init.localLoad(),
        ...(offer === undefined ? {} : { offer: endpointOf(offer) }),
        ...(leaving === undefined ? {} : { leaving }),
        ...(data ? { data } : {})
      }, { onLateAnswer: (late) => this.undoLatePull(peerId, producerId, offer, late) })
    } finally {
      this.countPull(peerId, producerId, -1)
    }
    if (answer.type === 'redirect' && answer.producerId === producerId) return { redirect: answer }
    const expected = data ? 'data-pull-ok' : 'pull-ok'
    if (answer.type !== expected || answer.producerId !== producerId) throw new RemoteError(peerId, 'bad-message', `pull answered with something else than ${expected} or redirect`)
    if (answer.route.includes(this.init.localPeerId) || answer.route.at(-1) !== peerId) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      this.abandonOffer(peerId, answer, offer)
      throw new RemoteError(peerId, 'loop', `its copy of ${producerId} comes through this node (route ${answer.route.join(' > ')})`)
    }
    let pipe: IncomingPipe
    try {
      pipe = await this.pipeFor(peerId, router, answer, link, offer)
    } catch (err) {
      this.release(peerId, answer.pipe.pipeId, producerId)
      throw err
    }
    if (replacing !== undefined && !replacing.closed) {
      // The new path is ready up to the copy itself: only now does the old one go.
      try {
        await pipe.ready
      } catch (err) {
        this.release(peerId, answer.pipe.pipeId, producerId)
        throw err
      }
      this.closeCopy(replacing, 'moving')
    }
    const done = this.init.registry.expectCopy(router, producerId)
    let producer: AnyProducer
    try {
      // The copy is made while a new pipe connects: both are worker round trips.
      producer = (await Promise.all([this.makeCopy(pipe.transport, answer), pipe.ready]))[0]
    } catch (err) {
      done()
      this.release(peerId, answer.pipe.pipeId, producerId)
      this.closeIfEmpty(pipe)
      throw err
    }
    pipe.copies.set(producerId, { producer, route: answer.route })
    this.init.spares.prepare(router)
    this.init.onDistributionChange(producerId)
    onceClosed(producer, () => {
      pipe.copies.delete(producerId)
      const single = pipe.closeReasons.get(producerId)
      pipe.closeReasons.delete(producerId)
      const reason = single?.reason ?? pipe.closeReason ?? 'released'
      this.init.onDistributionChange(producerId)
      this.init.onCopyClosed({
        producerId, router, upstream: peerId, route: answer.route, reason, upstreamRestoring: single?.upstreamRestoring ?? false, at: performance.now(), data
      })
      if (pipe.closing) return
      // The upstream's consumer is gone already when the close came from there.
      if (reason === 'released' || reason === 'moving') this.release(peerId, pipe.remotePipeId, producerId)
      this.closeIfEmpty(pipe)
    })
    if (data) {
      // Messages sent before the association is up are dropped by mediasoup: the copy is
      // usable once it is.
      try {
        await sctpConnected(pipe.transport, this.init.sctpConnectTimeoutMs)
      } catch (err) {
        this.closeCopy(producer, 'released')
        throw new RemoteError(peerId, 'unreachable', `pipe ${pipe.transport.id} from it: ${(err as Error).message}`)
      }
    }
    return { producer, route: answer.route }
  }

  /** The copy an answer describes, on our end of its pipe: same id, same parameters. */
  private async makeCopy (transport: ms.PipeTransport, answer: PullOk | DataPullOk): Promise<AnyProducer> {
    if (answer.type === 'data-pull-ok') {
      return await transport.produceData({
        id: answer.producerId,
        sctpStreamParameters: answer.sctpStreamParameters,
        label: answer.label,
        protocol: answer.protocol,
        paused: answer.paused,
        appData: answer.appData
      })
    }
    return await transport.produce({
      id: answer.producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
      paused: answer.paused,
      appData: answer.appData
    })
  }

  /** Closes a copy of this node for `reason` (no effect on one that is not a copy from a pipe). */
  closeCopy (producer: AnyProducer, reason: CopyCloseReason): void {
    for (const pipe of this.byId.values()) {
      if (pipe.copies.get(producer.id)?.producer !== producer) continue
      pipe.closeReasons.set(producer.id, { reason, upstreamRestoring: false })
      producer.close()
      return
    }
  }

  /** This node's copy of `producerId` that comes from `peerId`, if any. */
  copyFrom (peerId: string, producerId: string): (Copy & { router: ms.Router }) | undefined {
    for (const pipe of this.byId.values()) {
      const copy = pipe.peerId === peerId && !pipe.closing ? pipe.copies.get(producerId) : undefined
      if (copy !== undefined) return { ...copy, router: pipe.router }
    }
    return undefined
  }

  /** The pipe a copy comes on, if it is a copy from a pipe. */
  pipeOf (producer: AnyProducer): IncomingPipe | undefined {
    for (const pipe of this.byId.values()) if (pipe.copies.get(producer.id)?.producer === producer) return pipe
    return undefined
  }

  /** Open pipes from other nodes. */
  pipes (): IncomingPipe[] {
    return [...this.byId.values()]
  }

  /** The peer this node receives `producerId` from, with the route of its copy. */
  upstreamOf (producerId: string): { peerId: string, route: string[] } | undefined {
    for (const pipe of this.byId.values()) {
      const copy = pipe.copies.get(producerId)
      if (copy !== undefined) return { peerId: pipe.peerId, route: copy.route }
    }
    return undefined
  }

  private linkOf (router: ms.Router, peerId: string): Link {
    let peers = this.links.get(router)
    if (peers === undefined) {
      this.links.set(router, peers = new Map())
      router.observer.once('close', () => this.links.delete(router))
    }
    let link = peers.get(peerId)
    if (link === undefined) peers.set(peerId, link = { linkId: randomUUID() })
    return link
  }

  /** The next pull on this link asks for a new pipe. */
  private renewLink (router: ms.Router, peerId: string): void {
    const link = this.links.get(router)?.get(peerId)
    if (link !== undefined) link.linkId = randomUUID()
  }

  private hasPipe (router: ms.Router, peerId: string): boolean {
    for (const pipe of this.byId.values()) if (pipe.router === router && pipe.peerId === peerId && !pipe.closing) return true
    return false
  }

  /** The transport offered on a link: the one offered before if unused, else a spare. */
  private async offerOn (link: Link, router: ms.Router): Promise<ms.PipeTransport> {
    if (link.offer === undefined) {
      const offer = this.init.spares.take(router)
      link.offer = offer
      const forget = (): void => { if (link.offer === offer) link.offer = undefined }
      offer.then((t) => t.observer.once('close', forget), (err: Error) => {
        log.debug('offer transport not made: %s', describeError(err))
        forget()
      })
    }
    return await link.offer
  }

  private countPull (peerId: string, producerId: string, delta: 1 | -1): void {
    let counts = this.pulling.get(peerId)
    if (counts === undefined) this.pulling.set(peerId, counts = new Map())
    const n = (counts.get(producerId) ?? 0) + delta
    if (n > 0) counts.set(producerId, n)
    else counts.delete(producerId)
    if (counts.size === 0) this.pulling.delete(peerId)
  }

  private async pipeFor (peerId: string, router: ms.Router, answer: PullOk | DataPullOk, link: Link, offer: ms.PipeTransport | undefined): Promise<IncomingPipe> {
    let byRemote = this.creating.get(peerId)
    if (byRemote === undefined) this.creating.set(peerId, byRemote = new Map())
    const existing = byRemote.get(answer.pipe.pipeId)
    if (existing !== undefined) return await existing
    const viaOffer = answer.peerPipeId !== undefined && answer.peerPipeId === offer?.id
    if (answer.peerPipeId !== undefined && !viaOffer) throw new RemoteError(peerId, 'bad-message', `pipe ${answer.pipe.pipeId} is connected to a transport this node did not offer`)
    if (viaOffer) link.offer = undefined
    const creating = this.createPipe(peerId, router, answer, viaOffer ? offer : undefined)
    byRemote.set(answer.pipe.pipeId, creating)
    creating.catch(() => this.forgetCreating(peerId, answer.pipe.pipeId, creating))
    return await creating
  }

  private forgetCreating (peerId: string, remotePipeId: string, entry: Promise<IncomingPipe>): void {
    const byRemote = this.creating.get(peerId)
    if (byRemote?.get(remotePipeId) !== entry) return
    byRemote.delete(remotePipeId)
    if (byRemote.size === 0) this.creating.delete(peerId)
  }

  private async createPipe (peerId: string, router: ms.Router, answer: PullOk | DataPullOk, offer: ms.PipeTransport | undefined): Promise<IncomingPipe> {
    const transport = offer ?? await this.init.spares.take(router)
    const remotePipeId = answer.pipe.pipeId
    const connect = async (): Promise<void> => {
      try {
        await transport.connect({ ip: answer.pipe.ip, port: answer.pipe.port, srtpParameters: answer.pipe.srtpParameters })
        // The origin made this pipe without an offer: tell it where to send.
        if (offer === undefined) await this.init.send(peerId, { type: 'connect-pipe', pipeId: remotePipeId, remote: endpointOf(transport) })
      } catch (err) {
        transport.close()
        if (offer !== undefined) this.init.notices.notify(peerId, { type: 'close-pipe', pipeId: remotePipeId })
        throw err
      }
    }
    // An offered pipe is connected at the origin already: copies may be made meanwhile.
    const ready = offer !== undefined ? connect() : Promise.resolve(await connect())
    // The pull that made the pipe awaits `ready` and gets the failure.
    ready.catch(() => {})
    const pipe: IncomingPipe = { transport, peerId, router, remotePipeId, copies: new Map(), closeReasons: new Map(), ready, closing: false }
    this.byId.set(transport.id, pipe)
    // Closed by the router, the peer, or us: forget it, and make the next pull start a new pipe.
    transport.observer.once('close', () => {
      this.byId.delete(transport.id)
      const entry = this.creating.get(peerId)?.get(remotePipeId)
      if (entry !== undefined) this.forgetCreating(peerId, remotePipeId, entry)
      this.renewLink(router, peerId)
      if (!pipe.closing) {
        pipe.closing = true
        this.init.notices.notify(peerId, { type: 'close-pipe', pipeId: remotePipeId })
      }
    })
    return pipe
  }

  /**
   * A pull-ok that came after the pull ran out of time: the peer made a consumer (and
   * maybe connected a pipe to our offer) for a copy nobody will make, which would hold one
   * of its fan-out slots for as long as the pipe lives. Released, unless a pull of the same
   * producer from that peer is under way or done meanwhile (it gets the same consumer).
   */
  private undoLatePull (peerId: string, producerId: string, offer: ms.PipeTransport | undefined, late: Response): void {
    if ((late.type !== 'pull-ok' && late.type !== 'data-pull-ok') || late.producerId !== producerId || this.closed) return
    if (this.pulling.get(peerId)?.has(producerId) === true) return
    for (const pipe of this.byId.values()) {
      if (pipe.peerId === peerId && pipe.remotePipeId === late.pipe.pipeId && pipe.copies.has(producerId)) return
    }
    log.debug('late pull-ok of %s from %s released', producerId, peerId)
    this.release(peerId, late.pipe.pipeId, producerId)
    this.abandonOffer(peerId, late, offer)
  }

  /** A pipe the origin connected to our offer, which this node will not use after all: close both ends. */
  private abandonOffer (peerId: string, answer: PullOk | DataPullOk, offer: ms.PipeTransport | undefined): void {
    if (offer === undefined || answer.peerPipeId !== offer.id || this.creating.get(peerId)?.has(answer.pipe.pipeId) === true) return
    // Closing it also takes it off its link, if it is still the link's offer.
    offer.close()
    this.init.notices.notify(peerId, { type: 'close-pipe', pipeId: answer.pipe.pipeId })
  }

  private closeIfEmpty (pipe: IncomingPipe): void {
    if (pipe.copies.size > 0 || pipe.closing) return
    pipe.closing = true
    pipe.transport.close()
    this.init.notices.notify(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId })
  }

  private release (peerId: string, pipeId: string, producerId: string): void {
    this.init.notices.notify(peerId, { type: 'release', pipeId, producerId })
  }

  /** producer-event from the origin side of `pipeId`. */
  producerEvent (peerId: string, pipeId: string, producerId: string, event: 'pause' | 'resume' | 'close', reason: CloseReason = 'closed'): void {
    const pipe = this.byId.get(pipeId)
    const copy = pipe?.peerId === peerId ? pipe.copies.get(producerId) : undefined
    if (pipe === undefined || copy === undefined) throw new RequestRefusedError('not-found', `no producer ${producerId} on pipe ${pipeId}`)
    const failed = (err: Error): void => log.warn('%s of copy %s failed: %s', event, producerId, describeError(err))
    if (event === 'pause') void copy.producer.pause().catch(failed)
    else if (event === 'resume') void copy.producer.resume().catch(failed)
    else {
      const lost = reason === 'upstream-lost'
      pipe.closeReasons.set(producerId, { reason: lost ? 'upstreamlost' : 'producerclosed', upstreamRestoring: lost })
      copy.producer.close()
    }
  }

  /**
   * close-pipe from the upstream (its router closed, or it stops): the path is lost, the
   * producer may live on elsewhere. False when `pipeId` is not one of ours from it.
   */
  closeByPeer (peerId: string, pipeId: string): boolean {
    const pipe = this.byId.get(pipeId)
    if (pipe?.peerId !== peerId) return false
    pipe.closing = true
    pipe.closeReason = 'upstreamlost'
    pipe.transport.close()
    return true
  }

  /** The peer is gone: close every pipe from it, without telling it; the paths are lost. */
  closePeer (peerId: string): void {
    for (const pipe of [...this.byId.values()]) {
      if (pipe.peerId !== peerId) continue
      pipe.closing = true
      pipe.closeReason = 'upstreamlost'
      pipe.transport.close()
    }
  }

  /** Closes every pipe and offered transport, telling each peer (notices). */
  closeAll (): void {
    this.closed = true
    for (const peers of this.links.values()) {
      // An offer that failed to open was logged then; there is nothing to close.
      for (const link of peers.values()) void link.offer?.then((t) => t.close(), () => {})
    }
    this.links.clear()
    for (const pipe of [...this.byId.values()]) {
      pipe.closing = true
      pipe.closeReason = 'stopping'
      pipe.transport.close()
      this.init.notices.notify(pipe.peerId, { type: 'close-pipe', pipeId: pipe.remotePipeId }, logStopNotice)
    }
  }

  stats (): { pipes: number, copies: number } {
    let copies = 0
    for (const pipe of this.byId.values()) copies += pipe.copies.size
    return { pipes: this.byId.size, copies }
  }
}
