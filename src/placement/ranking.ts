// Which node a requester should be sent to: the redirect policy of a node that cannot
// serve a pull itself. Pure functions, so the policy is tested with injected values.

export interface RelayCandidate {
  peerId: string
  /** Scaling points the candidate has left. */
  spare: number
  capacity: number
  /** Downstream pipes the candidate already serves for this producer. */
  downstream: number
  /** Round-trip time between the candidate and the requester (libp2p ping), if known. */
  rttMs?: number
  /** The candidate's own fan-out, when known; else the policy's. */
  fanout?: number
}

export interface RankingPolicy {
  /** Points one more pipe of this producer costs. */
  cost: number
  /** Fan-out of a candidate that did not say its own (one at it redirects further down). */
  fanout: number
  /** How many milliseconds of RTT a completely loaded node is worth. Default 50. */
  loadPenaltyMs?: number
  /** RTT assumed for a candidate nobody measured. Default 100 ms. */
  unknownRttMs?: number
}

/**
 * Orders candidates, best first: those that can serve at once (room under fan-out and
 * capacity) before those that would redirect again, then by a score of RTT to the
 * requester plus a penalty growing with the candidate's load. Candidates with no spare
 * capacity at all go last.
 */
export function rankCandidates (candidates: RelayCandidate[], policy: RankingPolicy): RelayCandidate[] {
  const loadPenaltyMs = policy.loadPenaltyMs ?? 50
  const unknownRttMs = policy.unknownRttMs ?? 100
  const tier = (c: RelayCandidate): number => {
    if (c.spare < policy.cost) return 2
    return c.downstream < (c.fanout ?? policy.fanout) ? 0 : 1
  }
  const score = (c: RelayCandidate): number =>
    (c.rttMs ?? unknownRttMs) + loadPenaltyMs * (1 - Math.max(0, c.spare) / Math.max(1, c.capacity))
  return [...candidates].sort((a, b) => tier(a) - tier(b) || score(a) - score(b) || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0))
}
