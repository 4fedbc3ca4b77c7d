// Fixed timings and factors of a node (the configurable ones are in options.ts).
import type { Request } from '../protocol/messages.js'

/**
 * Deadlines per request type, in units of `timeouts.request`. Answering a pull may take two
 * status rounds (relays below, then peers to recruit: 0.5 each) and recruit attempts (1 in
 * all), or waiting for the answering relay's own pull; so a pull waits longest.
 */
export const DEADLINE_FACTOR: Record<Request['type'], number> = {
  pull: 2.5, recruit: 1, status: 0.5, 'connect-pipe': 1, 'producer-event': 1, release: 1, 'close-pipe': 1, move: 1, announce: 1, locate: 0.5, 'room-producers': 0.5, tree: 0.5
}

/**
 * A node without connections (or that no bootstrap node has answered yet) dials its bootstrap
 * addresses again after about 1 s, 2 s, 4 s…
 * at most 8 s: a node cut off by a partition rejoins within that long once its link is back
 * (a round is one dial per bootstrap address, cheap even every few seconds).
 */
export const BOOTSTRAP_RETRY_FIRST_MS = 1000
export const BOOTSTRAP_RETRY_LAST_MS = 8000

/** A peer that misses this many pings in a row (one per `timeouts.ping`) is given up. */
export const PING_FAILURES_BEFORE_CLOSE = 2

/** How long a node waits before announcing a copy it received. */
export const COPY_ANNOUNCE_DELAY_MS = 500

/**
 * A peer given up (silent, frozen, cut off) is not connected with again for this long:
 * else the lookups of the repair that follows would dial it straight back (it is still in
 * the DHT's routing table, and may be a home of the very producer).
 */
export const GIVEN_UP_QUARANTINE_MS = 5000

/**
 * An incoming pipe that should carry media and has received no byte for this long is
 * logged with its addresses (most often a media IP the other host cannot reach).
 */
export const NO_PIPE_BYTES_WARNING_MS = 5000

/**
 * Bounds of gathering a producer's tree (SwarmNode.producerTree()): nodes asked at most,
 * levels below the origin, and the whole gathering's deadline.
 */
export const TREE_MAX_NODES = 64
export const TREE_MAX_DEPTH = 16
export const TREE_TIMEOUT_MS = 2000
