// Providers that lied to this node. In an open swarm anyone can announce any producer id
// (home records and DHT provider records only say "the sender claims to have it"), then
// answer the pull with garbage, a wrong answer, a redirect to nowhere, or nothing at all.
// A node remembers, for a while, each peer that did so, and asks it last: its later pulls
// go to the other providers first, and a liar costs each honest node about one failed
// attempt per penalty period instead of one per pull. Bounded (the oldest penalty goes
// first) and expiring, so a peer penalised by mistake (a stale record, a slow moment) is
// only asked later, never cut off: when nobody else serves the producer it is still asked.

/**
 * Why a provider was penalised:
 * - `garbage`: its answer to a pull was malformed, of the wrong type, or unusable (a
 *   pull-ok whose route does not end at it, whose pipe or parameters mediasoup refuses…)
 * - `timeout`: it announced the producer and did not answer the pull in time
 * - `not-found`: it announced the producer and answered the pull `not-found`
 * - `redirect`: it redirected the pull to a node that then did not have the producer, did
 *   not answer, or was itself penalised: the redirecting node vouched for it
 */
export type PenaltyReason = 'garbage' | 'timeout' | 'not-found' | 'redirect'
export const PENALTY_REASONS: readonly PenaltyReason[] = ['garbage', 'timeout', 'not-found', 'redirect']

/** How long a penalty lasts (a new one restarts it). */
export const PENALTY_MS = 10 * 60_000
/** Peers remembered at most; past it the oldest penalty is dropped. */
export const MAX_PENALISED = 1024

export interface ProviderPenaltiesInit {
  durationMs?: number
  maxPeers?: number
  /** Clock (ms); performance.now() by default. */
  now?: () => number
}

interface Penalty { until: number, reason: PenaltyReason, count: number }

export class ProviderPenalties {
  /** In order of the latest penalty (Map keeps insertion order; a repeat moves it to the end). */
  private readonly penalties = new Map<string, Penalty>()
  private readonly counts = Object.fromEntries(PENALTY_REASONS.map((r) => [r, 0])) as Record<PenaltyReason, number>
  private readonly durationMs: number
  private readonly maxPeers: number
  private readonly now: () => number

  constructor (init: ProviderPenaltiesInit = {}) {
    this.durationMs = init.durationMs ?? PENALTY_MS
    this.maxPeers = init.maxPeers ?? MAX_PENALISED
    this.now = init.now ?? (() => performance.now())
  }

  /** Records a penalty of `peerId`; returns how many it has had within its current penalty. */
  penalise (peerId: string, reason: PenaltyReason): number {
    const previous = this.live(peerId)
    this.penalties.delete(peerId)
    const penalty = { until: this.now() + this.durationMs, reason, count: (previous?.count ?? 0) + 1 }
    this.penalties.set(peerId, penalty)
    this.counts[reason]++
    while (this.penalties.size > this.maxPeers) this.penalties.delete(this.penalties.keys().next().value!)
    return penalty.count
  }

  /** True while `peerId` is penalised. */
  isPenalised (peerId: string): boolean {
    return this.live(peerId) !== undefined
  }

  /** The peers penalised now, with the reason of their latest penalty. */
  penalised (): Map<string, PenaltyReason> {
    const out = new Map<string, PenaltyReason>()
    for (const peerId of [...this.penalties.keys()]) {
      const penalty = this.live(peerId)
      if (penalty !== undefined) out.set(peerId, penalty.reason)
    }
    return out
  }

  /** Penalties given so far, by reason (each from 0). */
  get reasonCounts (): Record<PenaltyReason, number> {
    return { ...this.counts }
  }

  private live (peerId: string): Penalty | undefined {
    const penalty = this.penalties.get(peerId)
    if (penalty === undefined) return undefined
    if (penalty.until > this.now()) return penalty
    this.penalties.delete(peerId)
    return undefined
  }
}
