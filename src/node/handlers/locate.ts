// locate: who provides a producer, as this node's home records know (waiting a moment for
// an announcement that has not landed yet) or, if asked to forward, as the holders it is
// connected to know; and the nodes it knows closer to its key.
import { MAX_CANDIDATES } from '../../protocol/messages.js'
import type { Handler } from './index.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'

export function locateHandler (directory: ProducerDirectory): Handler<'locate'> {
  return async ({ producerId, waitMs, forward }, peerId) => {
    const { providers, closer } = await directory.answerLocate(producerId, waitMs, peerId, forward === true, MAX_CANDIDATES)
    return { type: 'providers', producerId, providers, closer }
  }
}
