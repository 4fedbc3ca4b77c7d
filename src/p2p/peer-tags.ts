// Connections that carry media are kept when libp2p prunes: the connection manager closes
// the lowest-valued connections first once a node is over its maximum, and a pipe's control
// session (requests, producer events) must not be among them.
import { peerIdFromString } from '@libp2p/peer-id'
import { createLogger, describeError } from '../logger.js'
import type { Libp2p } from '@libp2p/interface'

const log = createLogger('p2p:tags')

/** The tag on peers this node has a pipe with; above the DHT's own tags (value 50). */
export const PIPE_PEER_TAG = 'mediasoup-swarm-pipe'
const PIPE_PEER_TAG_VALUE = 100

export class PipePeerTags {
  private tagged = new Set<string>()

  constructor (private readonly host: Libp2p) {}

  /** Tags `peers` (and untags those no longer among them). */
  set (peers: Iterable<string>): void {
    const next = new Set(peers)
    for (const peerId of next) if (!this.tagged.has(peerId)) this.tag(peerId, { value: PIPE_PEER_TAG_VALUE })
    for (const peerId of this.tagged) if (!next.has(peerId)) this.tag(peerId, undefined)
    this.tagged = next
  }

  private tag (peerId: string, tag: { value: number } | undefined): void {
    this.host.peerStore.merge(peerIdFromString(peerId), { tags: { [PIPE_PEER_TAG]: tag } })
      .catch((err: Error) => log.trace('tag of %s not changed: %s', peerId, describeError(err)))
  }
}
