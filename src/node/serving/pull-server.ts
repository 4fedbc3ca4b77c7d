// Answers another node's pull of a producer this node has (its own or a copy it relays):
// serve it on a pipe, send the requester to other nodes, or refuse. The placement policy
// decides; this module checks what the request may ask for and sets the pipe up. A data
// producer is served the same way, on the same pipes (their SCTP association).
import { InvalidStateError, RequestRefusedError } from '../../errors.js'
import { normalizeIp } from '../../p2p/peer-addresses.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { SpareTransports } from '../pipes/spare-transports.js'
import type { PeerLimits } from '../options.js'
import { isDataProducer } from '../../media/producer-registry.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { PlacementPolicy, PullContext } from '../../placement/placement-policy.js'
import type { DataPullOk, Load, PullOk, PullRequest, Redirect } from '../../protocol/messages.js'

export interface PullServerInit {
  registry: ProducerRegistry
  outgoing: OutgoingPipes
  spares: SpareTransports
  policy: PlacementPolicy
  limits: PeerLimits
  /** Peer ids from the origin to this node for a producer this node has. */
  routeOf: (producerId: string) => string[]
  /** This node's load, sent with every answer. */
  localLoad: () => Load
  /** Counts `cost` points of load until the returned function is called (a pipe being set up). */
  holdLoad: (cost: number) => () => void
  /** Remote IPs of the open connections with a peer: the only places media may go to. */
  remoteIpsOf: (peerId: string) => string[]
  multiaddrsOf: (peerId: string) => Promise<string[]>
  /** True while the node drains: it serves no new pull and recruits nobody. */
  draining: () => boolean
  /** Called for every pull refused for a `peerLimits` bound (counting). */
  onRefused?: (reason: 'pipes' | 'copies', peerId: string) => void
}

/** Most addresses per candidate in a redirect (the protocol's limit). */
const MAX_CANDIDATE_ADDRESSES = 8

export class PullServer {
  constructor (private readonly init: PullServerInit) {}

  async answer (peerId: string, request: PullRequest): Promise<PullOk | DataPullOk | Redirect> {
    const { producerId, linkId, offer } = request
    const data = request.data === true
    const entry = this.init.registry.entries(producerId)[0]
    // A pull names the kind it wants: an id of the other kind is not what it looks for.
    if (entry === undefined || isDataProducer(entry.producer) !== data) throw new RequestRefusedError('not-found', `no ${data ? 'data producer' : 'producer'} ${producerId} here`)
    const producer = entry.producer
    const route = this.init.routeOf(producerId)
    if (route.includes(peerId)) throw new RequestRefusedError('loop', `you are upstream of my copy of ${producerId}`)
    if (offer !== undefined) this.checkAddress(peerId, offer.ip)
    const { outgoing, limits } = this.init
    const onThisPipe = outgoing.carries(peerId, linkId, entry.router, producerId)
    if (!onThisPipe && outgoing.copiesFor(peerId, producerId) >= limits.copiesPerProducer) {
      this.init.onRefused?.('copies', peerId)
      throw new RequestRefusedError('busy', `you already receive ${producerId} from this node ${limits.copiesPerProducer} times`)
    }
    if (outgoing.isNewPipe(peerId, linkId, entry.router) && outgoing.pipeCount(peerId) >= limits.pipes) {
      this.init.onRefused?.('pipes', peerId)
      throw new RequestRefusedError('busy', `you already have ${limits.pipes} pipes from this node`)
    }
    const downstream = outgoing.downstreamOf(producerId)
    const pull: PullContext = {
      producerId,
      // A data pipe costs as an audio one: a stream of small messages.
      kind: isDataProducer(producer) ? 'audio' : producer.kind,
      requester: peerId,
      recruited: request.recruited,
      rtts: request.rtts,
      leavingDownstream: request.leaving !== undefined && request.leaving !== peerId && downstream.includes(request.leaving)
    }
    const alreadyServed = downstream.includes(peerId)
    if (this.init.draining() && !alreadyServed) return await this.elsewhere(pull, false)
    if (!alreadyServed && !this.init.policy.admits(pull)) return await this.elsewhere(pull, true)
    // Reserved in the same tick as the check: concurrent pulls cannot all pass it.
    const unreserve = outgoing.reserve(producerId, peerId)
    const releaseLoad = this.init.holdLoad(this.init.policy.pipeCost(pull.kind))
    let served
    try {
      served = await outgoing.serve(peerId, linkId, entry.router, producerId, offer, data)
    } finally {
      unreserve()
      releaseLoad()
    }
    this.init.spares.prepare(entry.router)
    const { consumer, endpoint, peerPipeId } = served
    if (!('kind' in consumer)) {
      // mediasoup gives every data consumer on an SCTP transport its stream.
      const { sctpStreamParameters } = consumer
      if (sctpStreamParameters === undefined) throw new InvalidStateError(`data consumer of ${producerId} has no SCTP stream`)
      return {
        type: 'data-pull-ok',
        producerId,
        sctpStreamParameters,
        label: consumer.label,
        protocol: consumer.protocol,
        paused: consumer.dataProducerPaused,
        appData: producer.appData,
        pipe: endpoint,
        ...(peerPipeId === undefined ? {} : { peerPipeId }),
        route,
        ...this.init.localLoad()
      }
    }
    return {
      type: 'pull-ok',
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: producer.appData,
      pipe: endpoint,
      ...(peerPipeId === undefined ? {} : { peerPipeId }),
      route,
      ...this.init.localLoad()
    }
  }

  /** A pipe may only send to an address the requester talks to us from. */
  checkAddress (peerId: string, ip: string): void {
    const own = this.init.remoteIpsOf(peerId)
    if (!own.includes(normalizeIp(ip))) {
      throw new RequestRefusedError('forbidden', `media address ${ip} is not one of yours (you connect from ${own.join(', ') || 'nowhere'})`)
    }
  }

  private async elsewhere (pull: PullContext, recruit: boolean): Promise<Redirect> {
    const placement = await this.init.policy.elsewhere(pull, { recruit })
    if (placement.action === 'refuse') throw new RequestRefusedError('capacity', placement.reason)
    return {
      type: 'redirect',
      producerId: pull.producerId,
      candidates: await Promise.all(placement.candidates.map(async (peerId) =>
        ({ peerId, multiaddrs: (await this.init.multiaddrsOf(peerId)).slice(0, MAX_CANDIDATE_ADDRESSES) })))
    }
  }
}
