// close-pipe: the other end closed the pipe `pipeId` (ours, either side).
import { RequestRefusedError } from '../../errors.js'
import type { Handler } from './index.js'
import type { IncomingPipes } from '../pipes/incoming-pipes.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'

export function closePipeHandler (outgoing: OutgoingPipes, incoming: IncomingPipes): Handler<'close-pipe'> {
  return ({ pipeId }, peerId) => {
    if (!outgoing.closeByPeer(peerId, pipeId) && !incoming.closeByPeer(peerId, pipeId)) {
      throw new RequestRefusedError('not-found', `no pipe ${pipeId} for you`)
    }
    return { type: 'ok' }
  }
}
