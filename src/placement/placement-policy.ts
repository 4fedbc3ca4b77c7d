// Where a pull is served: by the node asked, or by other nodes it names. The node asks its
// policy and turns the domain answer into a wire message (src/node/serving/pull-server.ts).
// One implementation today: delegation-policy.ts (fan-out, capacity, relays, recruiting).
import type { types as ms } from 'mediasoup'

/** A pull this node was asked for. */
export interface PullContext {
  producerId: string
  kind: ms.MediaKind
  /** Peer id of the requester. */
  requester: string
  /** The requester was recruited by this node to relay (may use the reserve). */
  recruited: boolean
  /** The requester's RTTs to its peers, in ms (rank candidates near it first). */
  rtts: Record<string, number>
  /** The requester moves off this downstream node of ours, which drains: its slot is about to free. */
  leavingDownstream: boolean
}

/** A pull this node does not serve: the nodes to ask instead (best first), or no room anywhere asked. */
export type Placement =
  | { action: 'redirect', candidates: string[] }
  | { action: 'refuse', reason: string }

export interface PlacementPolicy {
  /**
   * Whether this node serves the pull itself. Synchronous, so that the caller reserves
   * the slot in the same tick and concurrent pulls cannot all pass.
   */
  admits: (pull: PullContext) => boolean
  /**
   * Where a pull this node does not serve should go. `recruit: false` (a draining node):
   * no new relay is brought in (it would pull from this node).
   */
  elsewhere: (pull: PullContext, options?: { recruit?: boolean }) => Promise<Placement>
  /** Scaling points one more outgoing pipe of this kind costs. */
  pipeCost: (kind: ms.MediaKind) => number
}
