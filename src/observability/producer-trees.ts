// The trees of a node's producers for its status page, gathered over the swarm
// (SwarmNode.producerTree()) when asked and kept for a moment: a page polling every second
// costs each node of a tree one `tree` request per `maxAgeMs`, however many pages look.
import { createLogger, describeError } from '../logger.js'
import type { ProducerTree, SwarmNode } from '../node/swarm-node.js'

const log = createLogger('observability')

/** How long gathered trees are served before they are gathered again. */
export const TREE_MAX_AGE_MS = 2000
/** Producers whose trees are gathered at most (the first ones); the others show this node's part only. */
export const MAX_TREES = 16

export class ProducerTrees {
  private trees = new Map<string, ProducerTree>()
  private gatheredAt = -Infinity
  private gathering?: Promise<Map<string, ProducerTree>>

  constructor (private readonly node: SwarmNode, private readonly maxAgeMs = TREE_MAX_AGE_MS) {}

  /** Trees at most `maxAgeMs` old, by producer id; callers at once share one gathering. */
  async get (): Promise<ReadonlyMap<string, ProducerTree>> {
    if (performance.now() - this.gatheredAt < this.maxAgeMs) return this.trees
    this.gathering ??= this.gather().finally(() => { this.gathering = undefined })
    return await this.gathering
  }

  private async gather (): Promise<Map<string, ProducerTree>> {
    const trees = new Map<string, ProducerTree>()
    await Promise.all(this.node.producerIds().slice(0, MAX_TREES).map(async (producerId) => {
      try {
        const tree = await this.node.producerTree(producerId)
        if (tree !== undefined) trees.set(producerId, tree)
      } catch (err) {
        log.debug('tree of %s not gathered: %s', producerId, describeError(err))
      }
    }))
    this.trees = trees
    this.gatheredAt = performance.now()
    return trees
  }
}
