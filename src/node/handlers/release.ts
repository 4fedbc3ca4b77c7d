// release: the puller closed its copy; stop sending it that producer.
import type { Handler } from './index.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'

export function releaseHandler (outgoing: OutgoingPipes): Handler<'release'> {
  return ({ pipeId, producerId }, peerId) => {
    outgoing.release(peerId, pipeId, producerId)
    return { type: 'ok' }
  }
}
