// Values on peers, for the connection trimmer (connection-trimmer.ts), which closes the
// lowest-valued connections first once a node is over its maximum: a pipe's control
// session (requests, producer events) must not be among them, and a connection this node
// sends records over every minute is worth more than one it would dial again for it.
import { peerIdFromString } from '@libp2p/peer-id'
import { createLogger, describeError } from '../logger.js'
import type { Libp2p } from '@libp2p/interface'

const log = createLogger('p2p:tags')

/** The tag on peers this node has a pipe with: never trimmed. */
export const PIPE_PEER_TAG = 'mediasoup-swarm-pipe'
const PIPE_PEER_TAG_VALUE = 100
/**
 * The tag on peers this node exchanges home records with every half provider validity: the
 * homes of its originals, and the providers it is a home of. Below the DHT's own tags (50):
 * a dial costs ≈ 8 KB, a minute of the connection ≈ 0.7 KB of pings.
 */
export const RECORD_PEER_TAG = 'mediasoup-swarm-records'
const RECORD_PEER_TAG_VALUE = 30

/** One tag on a set of peers: set() tags the new ones and untags those no longer in it. */
export class PeerTags {
  private tagged = new Set<string>()

  constructor (private readonly host: Libp2p, private readonly name: string, private readonly value: number) {}

  /** Tags `peers` (and untags those no longer among them). */
  set (peers: Iterable<string>): void {
    const next = new Set(peers)
    for (const peerId of next) if (!this.tagged.has(peerId)) this.tag(peerId, { value: this.value })
    for (const peerId of this.tagged) if (!next.has(peerId)) this.tag(peerId, undefined)
    this.tagged = next
  }

  /** Tags `peers` too, until the next set() leaves them out. */
  add (peers: Iterable<string>): void {
    for (const peerId of peers) {
      if (this.tagged.has(peerId)) continue
      this.tagged.add(peerId)
      this.tag(peerId, { value: this.value })
    }
  }

  private tag (peerId: string, tag: { value: number } | undefined): void {
    this.host.peerStore.merge(peerIdFromString(peerId), { tags: { [this.name]: tag } })
      .catch((err: Error) => log.trace('tag %s of %s not changed: %s', this.name, peerId, describeError(err)))
  }
}

/** The peers this node pipes media with. */
export const pipePeerTags = (host: Libp2p): PeerTags => new PeerTags(host, PIPE_PEER_TAG, PIPE_PEER_TAG_VALUE)

/** The peers this node exchanges home records with. */
export const recordPeerTags = (host: Libp2p): PeerTags => new PeerTags(host, RECORD_PEER_TAG, RECORD_PEER_TAG_VALUE)
