// producer-event: the upstream's producer was paused, resumed or closed; so is our copy.
import type { Handler } from './index.js'
import type { IncomingPipes } from '../pipes/incoming-pipes.js'

export function producerEventHandler (incoming: IncomingPipes): Handler<'producer-event'> {
  return ({ pipeId, producerId, event, reason }, peerId) => {
    incoming.producerEvent(peerId, pipeId, producerId, event, reason)
    return { type: 'ok' }
  }
}
