// announce: the sender provides (or no longer provides) producers this node is a home of.
// The answer to an announce of one producer names the nodes this one knows closest to its
// key, so that an announcer whose view of the swarm is partial reaches the real homes; a
// neighbour's announce (to a node it is connected to, not as a home) needs none, nor does a
// refresh (records announced before: a re-announcement, a hand-off to a peer that connects).
import type { Handler } from './index.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'

export function announceHandler (directory: ProducerDirectory): Handler<'announce'> {
  // A peer can only announce itself: the records name the sender, whatever it claims.
  return async ({ producerIds, withdrawn, neighbour, refresh }, peerId) => {
    directory.storeRecords(peerId, producerIds, withdrawn, neighbour === true)
    if (neighbour === true || refresh === true || producerIds.length !== 1 || withdrawn.length > 0) return { type: 'ok' }
    const [producerId] = producerIds as [string]
    return { type: 'closer', producerId, closer: await directory.closerPeers(producerId, [peerId]) }
  }
}
