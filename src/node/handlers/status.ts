// status: this node's load, and what it does with one producer (placement decisions).
import type { Handler } from './index.js'
import type { ProducerPuller } from '../pulling/producer-puller.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { Load } from '../../protocol/messages.js'

export interface StatusHandlerInit {
  registry: ProducerRegistry
  puller: ProducerPuller
  outgoing: OutgoingPipes
  localLoad: () => Load
  draining: () => boolean
  fanout: number
}

export function statusHandler ({ registry, puller, outgoing, localLoad, draining, fanout }: StatusHandlerInit): Handler<'status'> {
  return ({ producerId }) => ({
    type: 'status-ok',
    has: producerId !== undefined && registry.entries(producerId).length > 0,
    pulling: producerId !== undefined && puller.isPulling(producerId),
    downstream: producerId === undefined ? 0 : outgoing.downstreamOf(producerId).length,
    ...(draining() ? { draining: true } : {}),
    fanout,
    ...localLoad()
  })
}
