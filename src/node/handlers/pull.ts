// pull: serve a producer of this node to the requester, or send it elsewhere.
import type { Handler } from './index.js'
import type { PullServer } from '../serving/pull-server.js'
import type { ProducerPuller } from '../pulling/producer-puller.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { Load } from '../../protocol/messages.js'

export interface PullHandlerInit {
  server: PullServer
  registry: ProducerRegistry
  puller: ProducerPuller
  /** Remembers the load a peer reported (status pages, getDistribution()). */
  notePeerLoad: (peerId: string, load: Load) => void
}

export function pullHandler ({ server, registry, puller, notePeerLoad }: PullHandlerInit): Handler<'pull'> {
  return async (request, peerId) => {
    notePeerLoad(peerId, { load: request.load, capacity: request.capacity })
    // A relay still pulling the producer answers once its own pull is done.
    if (registry.entries(request.producerId).length === 0) await puller.settled(request.producerId)
    return await server.answer(peerId, request)
  }
}
