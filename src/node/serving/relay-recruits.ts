// Being recruited: a full node asks this one to pull a producer from it and relay it
// (docs/delegation.md). The pull goes through the node's one pull per producer, so a
// recruit never makes a second copy beside a pull under way. A recruit costs a pull back
// to its sender, so recruits are bounded per sender (a rate, a few at once), and a sender
// that did not have what it recruited for loses its whole allowance: recruits of random
// ids cannot make this node send pulls back one for one (docs/protocol.md#recruit).
import { RequestRefusedError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import { TokenBucket } from '../../protocol/token-bucket.js'
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
  /** Recruits one peer may make per minute (peerLimits.recruitsPerMinute). */
  recruitsPerMinute: number
  /** Called for every recruit refused for being over these bounds (counting). */
  onRefused?: (peerId: string) => void
}

/** Recruits of one sender that may start pulls at once, and the bucket's size. */
export const RECRUIT_BURST = 8
/** How often allowances that are back to full are forgotten while some are kept. */
const SWEEP_MS = 10_000

export class RelayRecruits {
  private relayRouter?: Promise<ms.Router>
  /** Per sender: its recruit allowance, and its recruits pulling now. Forgotten when full and idle. */
  private readonly senders = new Map<string, { bucket: TokenBucket, pulling: number }>()
  private sweep?: NodeJS.Timeout

  constructor (private readonly init: RelayRecruitsInit) {}

  /** Resolves once this node has the copy; refuses with `capacity` when it cannot, `busy` past the sender's bounds. */
  async answer (peerId: string, producerId: string, data = false): Promise<void> {
    const { registry, puller } = this.init
    const busy = (): boolean => registry.entries(producerId).length > 0 || puller.isPulling(producerId)
    if (!busy()) {
      if (this.init.draining()) throw new RequestRefusedError('capacity', 'draining')
      if (!this.init.hasRoomForPipe()) throw new RequestRefusedError('capacity', 'no spare capacity')
      const sender = this.admit(peerId)
      try {
        const router = await this.routerForRelaying()
        if (!busy()) {
          log.debug('recruited by %s to relay %s', peerId, producerId)
          await puller.locate(producerId, router, peerId, data).catch((err: Error) => {
            // It recruited this node for a producer it could not give: a liar, or a rare race.
            log.debug('recruit by %s for %s failed, its recruits are refused for a while: %s', peerId, producerId, describeError(err))
            sender.bucket.charge(RECRUIT_BURST)
            throw err
          })
        }
      } finally {
        sender.pulling--
        this.forgetIdleSenders()
      }
    }
    await puller.settled(producerId)
    if (registry.entries(producerId).length === 0) throw new RequestRefusedError('capacity', `could not get ${producerId}`)
  }

  /** Senders this node keeps a recruit allowance for (tests: empty once their allowance is back). */
  get trackedSenders (): number {
    return this.senders.size
  }

  private admit (peerId: string): { bucket: TokenBucket, pulling: number } {
    let sender = this.senders.get(peerId)
    if (sender === undefined) {
      sender = { bucket: new TokenBucket(this.init.recruitsPerMinute / 60, RECRUIT_BURST), pulling: 0 }
      this.senders.set(peerId, sender)
    }
    if (sender.pulling >= RECRUIT_BURST || !sender.bucket.take()) {
      this.init.onRefused?.(peerId)
      this.forgetIdleSenders()
      throw new RequestRefusedError('busy', `over ${this.init.recruitsPerMinute} recruits per minute, or ${RECRUIT_BURST} at once`)
    }
    sender.pulling++
    this.forgetIdleSenders()
    return sender
  }

  /** Keeps the map to the senders of the last minute or so: one timer while it is not empty. */
  private forgetIdleSenders (): void {
    for (const [peerId, sender] of this.senders) if (sender.pulling === 0 && sender.bucket.full) this.senders.delete(peerId)
    if (this.senders.size > 0 && this.sweep === undefined) {
      this.sweep = setTimeout(() => {
        this.sweep = undefined
        this.forgetIdleSenders()
      }, SWEEP_MS).unref()
    }
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
