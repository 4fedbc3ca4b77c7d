// The table of request handlers: one per wire request type, each given only the parts it uses.
import { announceHandler } from './announce.js'
import { closePipeHandler } from './close-pipe.js'
import { connectPipeHandler } from './connect-pipe.js'
import { locateHandler } from './locate.js'
import { moveHandler } from './move.js'
import { producerEventHandler } from './producer-event.js'
import { pullHandler } from './pull.js'
import { recruitHandler } from './recruit.js'
import { releaseHandler } from './release.js'
import { roomProducersHandler } from './room-producers.js'
import { statusHandler } from './status.js'
import { treeHandler } from './tree.js'
import type { TreeAnswerInit } from './tree.js'
import type { HandlerTable } from './index.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { Load } from '../../protocol/messages.js'
import type { CopyRepair } from '../healing/copy-repair.js'
import type { IncomingPipes } from '../pipes/incoming-pipes.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { ProducerPuller } from '../pulling/producer-puller.js'
import type { PullServer } from '../serving/pull-server.js'
import type { RelayRecruits } from '../serving/relay-recruits.js'
import type { Rooms } from '../rooms/rooms.js'

export interface HandlerParts {
  server: PullServer
  registry: ProducerRegistry
  puller: ProducerPuller
  outgoing: OutgoingPipes
  incoming: IncomingPipes
  recruits: RelayRecruits
  repair: CopyRepair
  directory: ProducerDirectory
  localLoad: () => Load
  draining: () => boolean
  fanout: number
  notePeerLoad: (peerId: string, load: Load) => void
  rooms: Rooms
  tree: TreeAnswerInit
}

export function handlerTable (p: HandlerParts): HandlerTable {
  return {
    pull: pullHandler({ server: p.server, registry: p.registry, puller: p.puller, notePeerLoad: p.notePeerLoad }),
    status: statusHandler({ registry: p.registry, puller: p.puller, outgoing: p.outgoing, localLoad: p.localLoad, draining: p.draining, fanout: p.fanout }),
    recruit: recruitHandler(p.recruits),
    'connect-pipe': connectPipeHandler(p.outgoing, p.server),
    release: releaseHandler(p.outgoing),
    'producer-event': producerEventHandler(p.incoming),
    'close-pipe': closePipeHandler(p.outgoing, p.incoming),
    move: moveHandler(p.repair),
    announce: announceHandler(p.directory),
    locate: locateHandler(p.directory),
    'room-producers': roomProducersHandler(p.rooms),
    tree: treeHandler(p.tree)
  }
}
