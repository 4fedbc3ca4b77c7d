// A producer's whole distribution tree, gathered for status pages: the node asks the
// origin what it does with the producer (`tree`), then the nodes it sends it to, level by
// level. Each node answers only for itself (one answer per request: asking costs a node
// no requests of its own), and the gathering is bounded in nodes, depth and time; what
// did not answer in time shows as such.
import { createLogger, describeError } from '../../logger.js'
import type { PipeFiguresMessage, TreeOk } from '../../protocol/messages.js'

const log = createLogger('node:tree')

/** One pipe's media figures for a producer, from a sampler (the binary's `/status` `media.pipes`). */
export interface TreePipeFigures extends PipeFiguresMessage {
  producerId: string
}

export interface TreeNode {
  peerId: string
  /** Its `name`; null when it did not tell. */
  name: string | null
  /** Levels below the origin (the origin: 0). */
  depth: number
  /** False: it did not answer in time (or is of an older version); what is below it is unknown. */
  answered: boolean
  /** It has the producer now. */
  has: boolean
  /** Its load and capacity in scaling points when it answered. */
  load: number | null
  capacity: number | null
}

export interface TreeEdge {
  /** Sends the producer… */
  from: string
  /** …to this node. */
  to: string
  /** From the receiving node's figures, else the sending node's; null when neither sampled it. */
  bitrateBps: number | null
  packetLossFraction: number | null
}

export interface ProducerTree {
  producerId: string
  /** Date.now() when it was gathered. */
  gatheredAt: number
  /** Breadth-first from the origin. */
  nodes: TreeNode[]
  edges: TreeEdge[]
  /** False when a node did not answer, or the bounds cut the tree short. */
  complete: boolean
}

export interface TreeBounds {
  maxNodes: number
  maxDepth: number
  timeoutMs: number
}

export interface TreeGathererInit {
  localPeerId: string
  /** This node's own answer (no request to itself). */
  local: (producerId: string) => Promise<TreeOk>
  /** Asks a peer; rejects when it fails or answers otherwise. */
  ask: (peerId: string, producerId: string, timeoutMs: number) => Promise<TreeOk>
  learnAddresses: (peerId: string, multiaddrs: string[]) => Promise<void>
}

interface Visit { peerId: string, depth: number }

/**
 * Gathers the tree of `producerId` from its origin, the first node of `route` (this node's
 * route to it). A node of the route that does not answer still leads to the next one.
 */
export async function gatherTree (init: TreeGathererInit, producerId: string, route: string[], bounds: TreeBounds): Promise<ProducerTree> {
  const deadline = performance.now() + bounds.timeoutMs
  const nodes = new Map<string, TreeNode>()
  const answers = new Map<string, TreeOk>()
  const edges: Array<{ from: string, to: string }> = []
  let complete = true
  let level: Visit[] = [{ peerId: route[0] ?? init.localPeerId, depth: 0 }]
  nodes.set(level[0]!.peerId, blank(level[0]!))
  while (level.length > 0) {
    const results = await Promise.all(level.map(async (visit) => await answerOf(init, visit.peerId, producerId, deadline)))
    const next: Visit[] = []
    const addChild = (from: string, to: string, depth: number): void => {
      if (nodes.has(to)) return
      if (depth > bounds.maxDepth || nodes.size >= bounds.maxNodes) {
        complete = false
        return
      }
      const visit = { peerId: to, depth }
      nodes.set(to, blank(visit))
      edges.push({ from, to })
      next.push(visit)
    }
    level.forEach((visit, i) => {
      const answer = results[i]
      const node = nodes.get(visit.peerId)!
      if (answer === undefined) {
        complete = false
        // Past a silent node of the route, the route still says where the producer went.
        const onRoute = route.indexOf(visit.peerId)
        if (onRoute >= 0 && onRoute < route.length - 1) addChild(visit.peerId, route[onRoute + 1]!, visit.depth + 1)
        return
      }
      answers.set(visit.peerId, answer)
      Object.assign(node, { name: answer.name ?? null, answered: true, has: answer.has, load: answer.load, capacity: answer.capacity })
      for (const child of answer.downstream) {
        void init.learnAddresses(child.peerId, child.multiaddrs)
        addChild(visit.peerId, child.peerId, visit.depth + 1)
      }
    })
    level = next
  }
  return {
    producerId,
    gatheredAt: Date.now(),
    nodes: [...nodes.values()],
    edges: edges.map(({ from, to }) => ({ from, to, ...figuresOf(answers.get(to), from, 'in') ?? figuresOf(answers.get(from), to, 'out') ?? NO_FIGURES })),
    complete
  }
}

const NO_FIGURES = { bitrateBps: null, packetLossFraction: null }

function blank ({ peerId, depth }: Visit): TreeNode {
  return { peerId, name: null, depth, answered: false, has: false, load: null, capacity: null }
}

function figuresOf (answer: TreeOk | undefined, peerId: string, direction: 'in' | 'out'): { bitrateBps: number, packetLossFraction: number } | undefined {
  const pipe = answer?.pipes?.find((p) => p.peerId === peerId && p.direction === direction)
  return pipe === undefined ? undefined : { bitrateBps: pipe.bitrateBps, packetLossFraction: pipe.packetLossFraction }
}

async function answerOf (init: TreeGathererInit, peerId: string, producerId: string, deadline: number): Promise<TreeOk | undefined> {
  const left = deadline - performance.now()
  if (left <= 0) return undefined
  try {
    return peerId === init.localPeerId ? await init.local(producerId) : await init.ask(peerId, producerId, left)
  } catch (err) {
    log.debug('tree of %s: %s did not answer: %s', producerId, peerId, describeError(err))
    return undefined
  }
}
