// gatherTree() with fake nodes (the pure walk): level by level from the origin, bounded in
// nodes, depth and time, silent nodes shown as such, and each edge's figures taken from
// the receiving node first; then node.producerTree() over the wire between real nodes
// with real RTP. The status page drawing it: test/browser/status-page.test.ts.
import assert from 'node:assert/strict'
import { createSwarmNode } from '../../src/index.js'
import { gatherTree } from '../../src/node/tree/producer-tree.js'
import { createRtpSink, createRtpSource, mediaCodecs, waitFor } from '../harness/index.js'
import { stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { TreeGathererInit, TreeBounds } from '../../src/node/tree/producer-tree.js'
import type { PipeFiguresMessage, TreeOk } from '../../src/protocol/messages.js'

const P = 'producer-1'
const BOUNDS: TreeBounds = { maxNodes: 64, maxDepth: 16, timeoutMs: 1000 }

/** Nodes by peer id: who each sends the producer to, and its figures. */
type Fake = Record<string, { downstream: string[], pipes?: PipeFiguresMessage[], silent?: boolean, delayMs?: number }>

function fakeSwarm (self: string, nodes: Fake): { init: TreeGathererInit, asked: string[] } {
  const asked: string[] = []
  const answer = (peerId: string): TreeOk => ({
    type: 'tree-ok', producerId: P, name: `name-${peerId}`, has: true, route: [], load: 4, capacity: 2000,
    downstream: nodes[peerId]!.downstream.map((d) => ({ peerId: d, multiaddrs: [] })),
    ...(nodes[peerId]!.pipes === undefined ? {} : { pipes: nodes[peerId]!.pipes })
  })
  return {
    asked,
    init: {
      localPeerId: self,
      local: async () => answer(self),
      ask: async (peerId, _producerId, timeoutMs) => {
        asked.push(peerId)
        const node = nodes[peerId]
        if (node === undefined || node.silent === true) throw new Error('unreachable')
        if (node.delayMs !== undefined) {
          if (node.delayMs > timeoutMs) {
            await new Promise((resolve) => setTimeout(resolve, timeoutMs))
            throw new Error('timeout')
          }
          await new Promise((resolve) => setTimeout(resolve, node.delayMs))
        }
        return answer(peerId)
      },
      learnAddresses: async () => {}
    }
  }
}

describe('gatherTree()', () => {
  it('walks from the origin level by level, asking each node once and itself not at all', async () => {
    const { init, asked } = fakeSwarm('B', { A: { downstream: ['B', 'C'] }, B: { downstream: ['D'] }, C: { downstream: [] }, D: { downstream: [] } })
    const tree = await gatherTree(init, P, ['A', 'B'], BOUNDS)
    assert.deepEqual(tree.nodes.map((n) => [n.peerId, n.depth, n.name, n.answered]), [['A', 0, 'name-A', true], ['B', 1, 'name-B', true], ['C', 1, 'name-C', true], ['D', 2, 'name-D', true]])
    assert.deepEqual(tree.edges.map((e) => `${e.from}>${e.to}`), ['A>B', 'A>C', 'B>D'])
    assert.deepEqual(asked.sort(), ['A', 'C', 'D'])
    assert.equal(tree.complete, true)
  })

  it('takes an edge\'s figures from the receiving node, else the sending node, else none', async () => {
    const { init } = fakeSwarm('A', {
      A: { downstream: ['B', 'C'], pipes: [{ peerId: 'B', direction: 'out', bitrateBps: 1, packetLossFraction: 0.5 }, { peerId: 'C', direction: 'out', bitrateBps: 2, packetLossFraction: 0.25 }] },
      B: { downstream: ['D'], pipes: [{ peerId: 'A', direction: 'in', bitrateBps: 10, packetLossFraction: 0.1 }] },
      C: { downstream: [] },
      D: { downstream: [] }
    })
    const tree = await gatherTree(init, P, ['A'], BOUNDS)
    assert.deepEqual(tree.edges, [
      { from: 'A', to: 'B', bitrateBps: 10, packetLossFraction: 0.1 },
      { from: 'A', to: 'C', bitrateBps: 2, packetLossFraction: 0.25 },
      { from: 'B', to: 'D', bitrateBps: null, packetLossFraction: null }
    ])
  })

  it('shows a silent node as not answered, and goes on past it along its own route', async () => {
    const { init } = fakeSwarm('C', { A: { downstream: ['B'] }, B: { downstream: [], silent: true }, C: { downstream: ['D'] }, D: { downstream: [] } })
    const tree = await gatherTree(init, P, ['A', 'B', 'C'], BOUNDS)
    assert.deepEqual(tree.nodes.map((n) => [n.peerId, n.answered]), [['A', true], ['B', false], ['C', true], ['D', true]])
    assert.deepEqual(tree.edges.map((e) => `${e.from}>${e.to}`), ['A>B', 'B>C', 'C>D'])
    assert.equal(tree.complete, false)
  })

  it('stops at maxNodes and maxDepth, and a loop in the answers does not make it walk forever', async () => {
    const wide: Fake = { A: { downstream: Array.from({ length: 30 }, (_, i) => `L${i}`) } }
    for (let i = 0; i < 30; i++) wide[`L${i}`] = { downstream: ['A'] }
    const { init, asked } = fakeSwarm('A', wide)
    const tree = await gatherTree(init, P, ['A'], { ...BOUNDS, maxNodes: 10 })
    assert.equal(tree.nodes.length, 10)
    assert.equal(asked.length, 9)
    assert.equal(tree.complete, false)

    const chain: Fake = {}
    for (let i = 0; i < 40; i++) chain[`N${i}`] = { downstream: i === 39 ? [] : [`N${i + 1}`] }
    const deep = await gatherTree(fakeSwarm('N0', chain).init, P, ['N0'], { ...BOUNDS, maxDepth: 5 })
    assert.equal(Math.max(...deep.nodes.map((n) => n.depth)), 5)
    assert.equal(deep.complete, false)
  })

  it('gives up on nodes that do not answer within the time bound', async () => {
    const { init } = fakeSwarm('A', { A: { downstream: ['B', 'C'] }, B: { downstream: [], delayMs: 5000 }, C: { downstream: [] } })
    const started = performance.now()
    const tree = await gatherTree(init, P, ['A'], { ...BOUNDS, timeoutMs: 200 })
    assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`)
    assert.deepEqual(tree.nodes.map((n) => [n.peerId, n.answered]), [['A', true], ['B', false], ['C', true]])
  })
})

describe('node.producerTree() on real nodes', function () {
  this.timeout(30_000)
  const nodes: SwarmNode[] = []
  const closers: Array<() => void> = []
  after(async () => {
    for (const close of closers) close()
    await stopAll(nodes)
  })

  it('gathers origin → relay → leaf over the wire: names, loads now, figures from the receiving end; a stopped relay leaves the tree', async () => {
    for (const name of ['origin', 'relay', 'leaf']) nodes.push(await createSwarmNode({ name, fanout: 1, bootstrap: nodes.at(-1)?.multiaddrs ?? [] }))
    const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const producerId = source.producer.id
    for (const node of [b, c]) {
      const router = await node.createRouter({ mediaCodecs })
      await node.pipeToRouter({ producerId, router })
      const sink = await createRtpSink({ router, producerId })
      closers.push(() => sink.close())
      await sink.waitForPackets(10, { timeoutMs: 10_000 })
    }
    assert.deepEqual(c.getDistribution(producerId)?.route, [a.peerId, b.peerId, c.peerId])
    // Figures as a sampler would give them: the relay's and leaf's 'in', the origin's 'out'.
    a.setPipeFigures(() => [{ producerId, peerId: b.peerId, direction: 'out', bitrateBps: 1000, packetLossFraction: 0.5 }])
    b.setPipeFigures(() => [{ producerId, peerId: a.peerId, direction: 'in', bitrateBps: 64_000, packetLossFraction: 0.01 }, { producerId: 'other', peerId: c.peerId, direction: 'out', bitrateBps: 1, packetLossFraction: 0 }])
    c.setPipeFigures(() => [{ producerId, peerId: b.peerId, direction: 'in', bitrateBps: Infinity, packetLossFraction: 0 }])

    const tree = await c.producerTree(producerId)
    assert.ok(tree !== undefined)
    assert.deepEqual(tree.nodes.map((n) => [n.peerId, n.name, n.depth, n.answered, n.has]), [[a.peerId, 'origin', 0, true, true], [b.peerId, 'relay', 1, true, true], [c.peerId, 'leaf', 2, true, true]])
    for (const n of tree.nodes) assert.equal(n.load, nodes.find((x) => x.peerId === n.peerId)!.capacity.load)
    // The relay's 'in' wins over the origin's 'out'; the leaf's out-of-range figure is not told, and B tells nothing of C's edge.
    assert.deepEqual(tree.edges, [
      { from: a.peerId, to: b.peerId, bitrateBps: 64_000, packetLossFraction: 0.01 },
      { from: b.peerId, to: c.peerId, bitrateBps: null, packetLossFraction: null }
    ])
    assert.equal(tree.complete, true)
    assert.equal(await c.producerTree('no-such-producer'), undefined)

    // The relay stops: the origin's tree is the origin alone.
    await b.stop()
    await waitFor(() => a.getDistribution(producerId)?.downstream.length === 0, { timeoutMs: 10_000, what: 'the origin losing its downstream' })
    const afterStop = await a.producerTree(producerId)
    assert.deepEqual(afterStop?.nodes.map((n) => n.peerId), [a.peerId])
  })
})
