import assert from 'node:assert/strict'
import { sleep, waitFor } from '../harness/index.js'
import { epochNow, largestGap, stopProcesses } from '../harness/process-node.js'
import { gapAfter, PPS, relayChain, startNodes } from '../harness/resilience.js'
import type { RemoteNode } from '../harness/process-node.js'

// Every node is an OS process of its own with its mediasoup worker in its process group, so
// a SIGKILL is a dead host and a SIGSTOP a frozen one. A source on A (fan-out 1) reaches C
// through the relay B; C's sink is consumed again on `producerrestored`, as an app does.
describe('relay and origin failures (one process per node, signals to the process group)', function () {
  this.timeout(60_000)
  const nodes: RemoteNode[] = []

  afterEach(async () => {
    await stopProcesses(nodes.splice(0))
  })

  it('a killed relay (SIGKILL of its process group): the copy below it is restored from the origin, media again ≤ 1 s after the kill', async () => {
    const { a, b, c, producerId } = await relayChain(nodes)
    const killedAt = epochNow()
    b.signal('SIGKILL')
    const { resumedAfterMs, report } = await gapAfter(c, producerId, killedAt, 1000)
    assert.ok(resumedAfterMs <= 1000, `media back ${resumedAfterMs.toFixed(0)} ms after the kill`)
    assert.equal(report.upstream, a.peerId)
    assert.deepEqual(report.events.map((e) => e.type === 'copyclosed' ? `${e.type} ${e.detail}` : e.type), ['copyclosed upstreamlost', 'producerrestored'])
    assert.deepEqual((await c.request('counts', {})).errors, [])
  })

  it('a frozen relay (SIGSTOP of its process group): the copy below it is restored, media again ≤ 3 s after the freeze', async () => {
    const { a, b, c, producerId } = await relayChain(nodes)
    const frozenAt = epochNow()
    b.signal('SIGSTOP')
    const { resumedAfterMs, report } = await gapAfter(c, producerId, frozenAt, 3000)
    assert.ok(resumedAfterMs <= 3000, `media back ${resumedAfterMs.toFixed(0)} ms after the freeze`)
    assert.equal(report.upstream, a.peerId)
    assert.ok(report.events.some((e) => e.type === 'producerrestored'))
  })

  it('a relay whose Node.js process alone is frozen (its worker forwards) keeps the path: no gap, no restore', async () => {
    // Pings every 400 ms: the 4 s below are ten periods of unanswered pings at A and at C.
    const { a, b, c, producerId } = await relayChain(nodes, 'video', { timeouts: { ping: 400 } })
    const frozenAt = epochNow()
    // Only the node's own process: its worker (another process of the group) keeps forwarding.
    process.kill(b.pid!, 'SIGSTOP')
    try {
      await sleep(4000)
      const report = await c.request('watchReport', { producerId, since: frozenAt })
      const { gapMs } = largestGap(report.arrivals, frozenAt, epochNow())
      assert.ok(gapMs < 300, `a gap of ${gapMs.toFixed(0)} ms`)
      assert.equal(report.upstream, b.peerId)
      assert.deepEqual(report.events, [])
      // Nor did A, above it, give B up (it hears B's worker on the pipe, not B's pings).
      assert.deepEqual((await a.request('getDistribution', { producerId }))?.downstream, [b.peerId])
    } finally {
      process.kill(b.pid!, 'SIGCONT')
    }
  })

  it('a killed origin: every copy closes swarm-wide within 2 s and none is restored', async () => {
    const { a, b, c, producerId } = await relayChain(nodes)
    const killedAt = epochNow()
    a.signal('SIGKILL')
    for (const node of [b, c]) {
      await waitFor(async () => (await node.request('watchReport', { producerId, since: 0 })).events.some((e) => e.type === 'copyclosed'), { timeoutMs: 3000, what: 'the copy closed' })
      const report = await node.request('watchReport', { producerId, since: 0 })
      const closed = report.events.find((e) => e.type === 'copyclosed')!
      assert.ok(closed.at - killedAt <= 2000, `closed ${(closed.at - killedAt).toFixed(0)} ms after the kill`)
    }
    await sleep(2000)
    for (const node of [b, c]) {
      const report = await node.request('watchReport', { producerId, since: 0 })
      assert.equal(report.upstream, null)
      assert.ok(!report.events.some((e) => e.type === 'producerrestored'), JSON.stringify(report.events))
      assert.equal((await node.request('counts', {})).pipes.incomingProducers, 0)
    }
  })

  it('a killed relay with a subtree below it: every node below is restored, and the origin keeps its fan-out', async () => {
    // A (fan-out 1) → B → C, D (fan-out 2) and E below C or D.
    const all = await startNodes(nodes, 5, (i) => ({ fanout: i === 0 ? 1 : 2 }))
    const [a, b, ...below] = all as [RemoteNode, RemoteNode, ...RemoteNode[]]
    const { producerId } = await a.request('createSource', { kind: 'audio', packetsPerSecond: PPS })
    await a.request('startSource', { producerId })
    for (const node of [b, ...below]) await node.request('watch', { producerId })
    const routes = await Promise.all(below.map(async (n) => (await n.request('getDistribution', { producerId }))!.route))
    const name = (id: string): string => String(all.findIndex((n) => n.peerId === id))
    assert.ok(routes.every((r) => r[1] === b.peerId), `every node below B: ${JSON.stringify(routes.map((r) => r.map(name).join(">")))}`)
    assert.ok(routes.some((r) => r.length === 4), 'one node two levels below B')
    const killedAt = epochNow()
    b.signal('SIGKILL')
    for (const node of below) {
      const { resumedAfterMs } = await gapAfter(node, producerId, killedAt, 2000)
      assert.ok(resumedAfterMs <= 2000, `media back ${resumedAfterMs.toFixed(0)} ms after the kill`)
    }
    assert.deepEqual((await a.request('getDistribution', { producerId }))!.downstream.length, 1)
  })
})
