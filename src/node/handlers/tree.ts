// tree: what this node does with one producer (its part of the producer's tree), for the
// node drawing the whole tree on a status page.
import { MAX_TREE_DOWNSTREAM } from '../../protocol/messages.js'
import type { Handler } from './index.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'
import type { Load, PipeFiguresMessage, TreeOk } from '../../protocol/messages.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { TreePipeFigures } from '../tree/producer-tree.js'

export interface TreeAnswerInit {
  name: string
  registry: ProducerRegistry
  outgoing: OutgoingPipes
  routeOf: (producerId: string) => string[]
  localLoad: () => Load
  addressesOf: (peerId: string) => Promise<string[]>
  /** Figures of this node's pipes, when a sampler gives them. */
  pipeFigures: () => TreePipeFigures[] | undefined
}

/** This node's `tree-ok` for a producer (also what it uses for itself when it gathers a tree). */
export async function treeAnswer (init: TreeAnswerInit, producerId: string): Promise<TreeOk> {
  const has = init.registry.entries(producerId).length > 0
  const downstream = has ? init.outgoing.downstreamOf(producerId).slice(0, MAX_TREE_DOWNSTREAM) : []
  const figures = init.pipeFigures()
  // A figure out of range would make the asker refuse the whole answer.
  const pipes: PipeFiguresMessage[] | undefined = figures?.filter((f) => f.producerId === producerId && f.bitrateBps >= 0 && Number.isFinite(f.bitrateBps) &&
    f.packetLossFraction >= 0 && f.packetLossFraction <= 1).slice(0, MAX_TREE_DOWNSTREAM + 1)
    .map(({ peerId, direction, bitrateBps, packetLossFraction }) => ({ peerId, direction, bitrateBps, packetLossFraction }))
  return {
    type: 'tree-ok',
    producerId,
    name: init.name,
    has,
    route: has ? init.routeOf(producerId) : [],
    downstream: await Promise.all(downstream.map(async (peerId) => ({ peerId, multiaddrs: await init.addressesOf(peerId) }))),
    ...(pipes === undefined ? {} : { pipes }),
    ...init.localLoad()
  }
}

export function treeHandler (init: TreeAnswerInit): Handler<'tree'> {
  return async ({ producerId }) => await treeAnswer(init, producerId)
}
