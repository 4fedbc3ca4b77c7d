// Being recruited: a full node asks this one to pull a producer from it and relay it
// (docs/delegation.md). The pull goes through the node's one pull per producer, so a
// recruit never makes a second copy beside a pull under way.
import { RequestRefusedError } from '../../errors.js'
import { createLogger } from '../../logger.js'
import type { ProducerPuller } from '../pulling/producer-puller.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:recruit')

export interface RelayRecruitsInit {
  registry: ProducerRegistry
  puller: ProducerPuller
  /** Whether a pipe of the costliest kind still fits this node. */
  hasRoomForPipe: () => boolean
  /** True while the node drains: it relays nothing new. */
  draining: () => boolean
  /** The node's open routers, oldest first. */
  routers: () => ms.Router[]
  /** Creates a router of the node (announced, tracked). */
  createRouter: (options: ms.RouterOptions) => Promise<ms.Router>
  /** Codecs of a router made only for relaying. */
  relayMediaCodecs: ms.RtpCodecCapability[]
}

export class RelayRecruits {
  private relayRouter?: Promise<ms.Router>

  constructor (private readonly init: RelayRecruitsInit) {}

  /** Resolves once this node has the copy; refuses with `capacity` when it cannot. */
  async answer (peerId: string, producerId: string): Promise<void> {
    const { registry, puller } = this.init
    const busy = (): boolean => registry.entries(producerId).length > 0 || puller.isPulling(producerId)
    if (!busy()) {
      if (this.init.draining()) throw new RequestRefusedError('capacity', 'draining')
      if (!this.init.hasRoomForPipe()) throw new RequestRefusedError('capacity', 'no spare capacity')
      const router = await this.routerForRelaying()
      if (!busy()) {
        log.debug('recruited by %s to relay %s', peerId, producerId)
        await puller.locate(producerId, router, peerId)
      }
    }
    await puller.settled(producerId)
    if (registry.entries(producerId).length === 0) throw new RequestRefusedError('capacity', `could not get ${producerId}`)
  }

  /**
   * The router a recruited relay keeps its copy in: the node's first open router, so that
   * its own clients can consume the copy (mediasoup allows a producer id once per worker:
   * a copy in a router of its own would block the others of that worker); a router of its
   * own (relayMediaCodecs) only on a node that has none.
   */
  private async routerForRelaying (): Promise<ms.Router> {
    const first = this.init.routers()[0]
    if (first !== undefined) return first
    if (this.relayRouter === undefined) {
      const creating = this.init.createRouter({ mediaCodecs: this.init.relayMediaCodecs })
      this.relayRouter = creating
      const forget = (): void => { if (this.relayRouter === creating) this.relayRouter = undefined }
      // A failed or closed relay router is made again on the next recruit.
      creating.then((router) => router.observer.once('close', forget), forget)
    }
    return await this.relayRouter
  }
}
