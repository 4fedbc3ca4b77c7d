// connect-pipe: the puller connects a pipe of ours that was made without its offer.
import type { Handler } from './index.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { PullServer } from '../serving/pull-server.js'

export function connectPipeHandler (outgoing: OutgoingPipes, server: PullServer): Handler<'connect-pipe'> {
  return async ({ pipeId, remote }, peerId) => {
    server.checkAddress(peerId, remote.ip)
    await outgoing.connectPipe(peerId, pipeId, remote)
    return { type: 'ok' }
  }
}
