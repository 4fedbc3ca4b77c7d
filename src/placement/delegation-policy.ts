// The delegation policy (docs/delegation.md): a node serves a pull while it has a fan-out
// slot and the points for it; otherwise it sends the requester to relays below it that
// have room, ranked by RTT to the requester and load, and recruits an idle peer as a new
// relay when none has. Every decision is local to the node asked.
import { createLogger, describeError } from '../logger.js'
import { consumerCost } from './capacity.js'
import { rankCandidates } from './ranking.js'
import type { ScalingCosts } from './capacity.js'
import type { Placement, PlacementPolicy, PullContext } from './placement-policy.js'
import type { RelayCandidate } from './ranking.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('placement')

/** A peer's answer to a status request (protocol `status-ok`), as the policy sees it. */
export interface PeerStatus {
  load: number
  capacity: number
  /** It has the producer. */
  has: boolean
  /** It is getting the producer now. */
  pulling: boolean
  /** Pipes it sends the producer on. */
  downstream: number
  /** It is draining: it takes no new pulls or recruits. */
  draining?: boolean
  /** Its own fan-out, when it said. */
  fanout?: number
}

/** What the policy asks of the node and the swarm (fakes in unit tests). */
export interface SwarmView {
  /** Whether `cost` more points fit this node, leaving `reserve` free unless `useReserve`. */
  fits: (cost: number, reserve: number, useReserve: boolean) => boolean
  downstreamOf: (producerId: string) => string[]
  /** Peer ids from the origin to this node. */
  routeOf: (producerId: string) => string[]
  /** Connected peers. */
  peers: () => string[]
  status: (peerId: string, producerId: string) => Promise<PeerStatus>
  /** Asks `peerId` to pull the producer from this node; resolves when it has it, within `timeoutMs`. */
  recruit: (peerId: string, producerId: string, timeoutMs: number) => Promise<void>
}

export interface DelegationPolicyInit {
  costs: ScalingCosts
  /** Most downstream pipes per producer. */
  fanout: number
  /** Points only recruited relays may use. */
  reserve: number
  /**
   * Time all recruit attempts of one redirect may take together: the requester waits for
   * the answer, so a recruit that does not come through in time must not hold it up.
   */
  recruitBudgetMs: number
  /** How many peers to ask for their status when looking for a recruit. Default 8. */
  recruitProbe?: number
  /** Most candidates in one redirect. Default 16 (the protocol's limit). */
  maxCandidates?: number
  /** The clock the recruit budget is measured on, ms. Default performance.now (tests pass their own). */
  now?: () => number
}

export class DelegationPolicy implements PlacementPolicy {
  constructor (private readonly view: SwarmView, private readonly init: DelegationPolicyInit) {}

  admits ({ producerId, kind, recruited, leavingDownstream }: PullContext): boolean {
    const { fanout, reserve } = this.init
    const downstream = this.view.downstreamOf(producerId).length
    // A recruited relay may take one slot beyond the fan-out, and the reserved points; so
    // may a node moving off a draining relay of ours (that relay's slot is about to free).
    const slots = fanout + (recruited || leavingDownstream ? 1 : 0)
    return downstream < slots && this.view.fits(this.pipeCost(kind), reserve, recruited)
  }

  pipeCost (kind: ms.MediaKind): number {
    return consumerCost(this.init.costs, kind, true)
  }

  async elsewhere ({ producerId, kind, requester, rtts }: PullContext, { recruit = true } = {}): Promise<Placement> {
    const cost = this.pipeCost(kind)
    const relays = this.view.downstreamOf(producerId).filter((p) => p !== requester)
    const ranked = rankCandidates(await this.relayCandidates(relays, producerId, rtts), { cost, fanout: this.init.fanout })
    let best = ranked.map((c) => c.peerId)
    if (recruit && !ranked.some((c) => c.spare >= cost && c.downstream < (c.fanout ?? this.init.fanout))) {
      // Nobody below has room: bring a new node in, if one has spare capacity.
      const recruit = await this.findRecruit(producerId, requester, rtts, cost)
      if (recruit !== undefined) best = [recruit, ...best]
    }
    if (best.length === 0) return { action: 'refuse', reason: `no room for ${producerId} here, below, or on any node asked` }
    return { action: 'redirect', candidates: best.slice(0, this.init.maxCandidates ?? 16) }
  }

  private async relayCandidates (peers: string[], producerId: string, rtts: Record<string, number>): Promise<RelayCandidate[]> {
    return await Promise.all(peers.map(async (peerId) => await this.view.status(peerId, producerId).then(
      // A draining relay still has the stream but takes nobody new: last, like a full one.
      (s) => s.draining === true
        ? { peerId, spare: 0, capacity: 1, downstream: this.init.fanout, rttMs: rtts[peerId] }
        : { peerId, spare: s.capacity - s.load, capacity: s.capacity, downstream: s.downstream, fanout: s.fanout, rttMs: rtts[peerId] },
      // A relay that did not answer in time (busy) still receives the stream: rank it last
      // rather than drop it, so a slow round does not turn into a capacity error.
      (err: Error) => {
        log.debug('relay %s did not answer status: %s', peerId, describeError(err))
        return { peerId, spare: 0, capacity: 1, downstream: this.init.fanout, rttMs: rtts[peerId] }
      })))
  }

  private async findRecruit (producerId: string, requester: string, rtts: Record<string, number>, cost: number): Promise<string | undefined> {
    const exclude = new Set([requester, ...this.view.routeOf(producerId), ...this.view.downstreamOf(producerId)])
    const pool = this.view.peers().filter((p) => !exclude.has(p)).slice(0, this.init.recruitProbe ?? 8)
    const statuses = await Promise.all(pool.map(async (peerId) => await this.view.status(peerId, producerId).then((s) => ({ peerId, s }), (err: Error) => {
      log.trace('possible recruit %s did not answer status: %s', peerId, describeError(err))
      return undefined
    })))
    // A node getting the stream now is about to be a relay already, not an idle one.
    const idle = statuses.flatMap((x) => x !== undefined && !x.s.has && !x.s.pulling && x.s.draining !== true && x.s.capacity - x.s.load >= cost
      ? [{ peerId: x.peerId, spare: x.s.capacity - x.s.load, capacity: x.s.capacity, downstream: 0, rttMs: rtts[x.peerId] }]
      : [])
    const now = this.init.now ?? (() => performance.now())
    const deadline = now() + this.init.recruitBudgetMs
    for (const candidate of rankCandidates(idle, { cost, fanout: this.init.fanout })) {
      // Too little time left to pull: the recruit would make a copy nobody waits for.
      const remainingMs = Math.ceil(deadline - now())
      if (remainingMs < this.init.recruitBudgetMs / 4) break
      try {
        await this.view.recruit(candidate.peerId, producerId, remainingMs)
        return candidate.peerId
      } catch (err) {
        // It filled up or went away meanwhile: ask the next one.
        log.debug('recruit of %s for %s failed: %s', candidate.peerId, producerId, describeError(err))
      }
    }
    return undefined
  }
}
