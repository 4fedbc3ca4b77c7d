// Whether this node serves a pull itself, and if not, where to send the requester: the
// delegation policy (docs/delegation.md). Every decision is local to the node asked.
import { consumerCost } from './capacity.js'
import { rankCandidates } from './ranking.js'
import type { LoadTracker, ScalingCosts } from './capacity.js'
import type { RelayCandidate } from './ranking.js'
import type { PullRequest, Response, StatusOk } from '../protocol/messages.js'
import type { types as ms } from 'mediasoup'

export interface AdmissionInit {
  load: LoadTracker
  costs: ScalingCosts
  /** Most downstream pipes per producer. */
  fanout: number
  /** Points only recruited relays may use. */
  reserve: number
  downstreamOf: (producerId: string) => string[]
  routeOf: (producerId: string) => string[]
  /** Connected peers. */
  peers: () => string[]
  multiaddrsOf: (peerId: string) => Promise<string[]>
  status: (peerId: string, producerId: string) => Promise<StatusOk>
  /** Asks `peerId` to pull the producer from this node; resolves when it has it, within `timeoutMs`. */
  recruit: (peerId: string, producerId: string, timeoutMs: number) => Promise<void>
  /**
   * Time all recruit attempts of one redirect may take together: the requester waits for
   * the answer, so a recruit that does not come through in time must not hold it up.
   */
  recruitBudgetMs: number
  /** How many peers to ask for their status when looking for a recruit. */
  recruitProbe?: number
}

export class Admission {
  constructor (private readonly init: AdmissionInit) {}

  /** True when this node can take one more downstream pipe of `producer` now. */
  canServe (producer: ms.Producer, recruited: boolean): boolean {
    const { fanout, load, reserve } = this.init
    const downstream = this.init.downstreamOf(producer.id).length
    // A recruited relay may take one slot beyond the fan-out, and the reserved points.
    const slots = fanout + (recruited ? 1 : 0)
    return downstream < slots && load.fits(this.pipeCost(producer.kind), reserve, recruited)
  }

  pipeCost (kind: ms.MediaKind): number {
    return consumerCost(this.init.costs, kind, true)
  }

  /** The answer to a pull this node does not serve itself: a redirect or a capacity error. */
  async redirect (request: PullRequest, requester: string, producer: ms.Producer): Promise<Response> {
    const cost = this.pipeCost(producer.kind)
    const relays = this.init.downstreamOf(producer.id).filter((p) => p !== requester)
    const ranked = rankCandidates(await this.candidates(relays, producer.id, request.rtts), { cost, fanout: this.init.fanout })
    let best = ranked.map((c) => c.peerId)
    if (!ranked.some((c) => c.spare >= cost && c.downstream < this.init.fanout)) {
      // Nobody below has room: bring a new node in, if one has spare capacity.
      const recruit = await this.findRecruit(producer.id, requester, request.rtts, cost)
      if (recruit !== undefined) best = [recruit, ...best]
    }
    if (best.length === 0) {
      return { type: 'error', code: 'capacity', message: `no room for ${producer.id} here, below, or on any node asked` }
    }
    return {
      type: 'redirect',
      producerId: producer.id,
      candidates: await Promise.all(best.slice(0, 16).map(async (peerId) => ({ peerId, multiaddrs: (await this.init.multiaddrsOf(peerId)).slice(0, 8) })))
    }
  }

  private async candidates (peers: string[], producerId: string, rtts: Record<string, number>): Promise<RelayCandidate[]> {
    return await Promise.all(peers.map(async (peerId) => await this.init.status(peerId, producerId).then(
      (s) => ({ peerId, spare: s.capacity - s.load, capacity: s.capacity, downstream: s.downstream, rttMs: rtts[peerId] }),
      // A relay that did not answer in time (busy) still receives the stream: rank it last
      // rather than drop it, so a slow round does not turn into a capacity error.
      () => ({ peerId, spare: 0, capacity: 1, downstream: this.init.fanout, rttMs: rtts[peerId] }))))
  }

  private async findRecruit (producerId: string, requester: string, rtts: Record<string, number>, cost: number): Promise<string | undefined> {
    const exclude = new Set([requester, ...this.init.routeOf(producerId), ...this.init.downstreamOf(producerId)])
    const pool = this.init.peers().filter((p) => !exclude.has(p)).slice(0, this.init.recruitProbe ?? 8)
    const statuses = await Promise.all(pool.map(async (peerId) => await this.init.status(peerId, producerId).then((s) => ({ peerId, s }), () => undefined)))
    // A node getting the stream now is about to be a relay already, not an idle one.
    const idle = statuses.filter((x) => x !== undefined && !x.s.has && !x.s.pulling && x.s.capacity - x.s.load >= cost)
      .map((x) => ({ peerId: x!.peerId, spare: x!.s.capacity - x!.s.load, capacity: x!.s.capacity, downstream: 0, rttMs: rtts[x!.peerId] }))
    const deadline = performance.now() + this.init.recruitBudgetMs
    for (const candidate of rankCandidates(idle, { cost, fanout: this.init.fanout })) {
      // Too little time left to pull: the recruit would make a copy nobody waits for.
      const remainingMs = Math.ceil(deadline - performance.now())
      if (remainingMs < this.init.recruitBudgetMs / 4) break
      try {
        await this.init.recruit(candidate.peerId, producerId, remainingMs)
        return candidate.peerId
      } catch {
        // It filled up or went away meanwhile: ask the next one.
      }
    }
    return undefined
  }
}
