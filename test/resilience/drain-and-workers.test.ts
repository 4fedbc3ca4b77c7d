import assert from 'node:assert/strict'
import { sleep, waitFor } from '../harness/index.js'
import { epochNow, largestGap, stopProcesses } from '../harness/process-node.js'
import { gapAfter, PPS, relayChain, startNodes } from '../harness/resilience.js'
import type { RemoteNode } from '../harness/process-node.js'

describe('drain for scale-in, and dead mediasoup workers (one process per node)', function () {
  this.timeout(60_000)
  const nodes: RemoteNode[] = []

  afterEach(async () => {
    await stopProcesses(nodes.splice(0))
  })

  it('a drained relay hands its downstream over to another provider with a media gap ≤ 0.5 s, then has no downstream pipe', async () => {
    const { a, b, c, producerId } = await relayChain(nodes)
    const drainedAt = epochNow()
    const result = await b.request('drain', { timeoutMs: 10_000 })
    assert.equal(result.drained, true)
    assert.equal(result.downstreamPipes, 0)
    const { gapMs, report } = await gapAfter(c, producerId, drainedAt, 2000)
    assert.ok(gapMs <= 500, `media gap of ${gapMs.toFixed(0)} ms at C`)
    assert.equal(report.upstream, a.peerId)
    assert.deepEqual(report.events.map((e) => e.type === 'copyclosed' ? `${e.type} ${e.detail}` : e.type), ['copyclosed moving', 'producerrestored'])
    const counts = await b.request('counts', {})
    assert.equal(counts.draining, true)
    assert.equal(counts.pipes.outgoingPipes, 0)
    // B still receives the stream for its own consumers.
    assert.equal((await b.request('watchReport', { producerId, since: 0 })).upstream, a.peerId)
  })

  it('a draining node takes no new pull: a newcomer is served by another node', async () => {
    const [a, b, c, d] = await startNodes(nodes, 4, (i) => ({ fanout: i === 0 ? 1 : 4 })) as [RemoteNode, RemoteNode, RemoteNode, RemoteNode]
    const { producerId } = await a.request('createSource', { kind: 'audio', packetsPerSecond: PPS })
    await a.request('startSource', { producerId })
    await b.request('watch', { producerId })
    await c.request('watch', { producerId })
    await b.request('drain', { timeoutMs: 5000 })
    await d.request('watch', { producerId })
    const distribution = await d.request('getDistribution', { producerId })
    assert.notEqual(distribution?.upstream, b.peerId)
    await waitFor(async () => (await d.request('watchReport', { producerId, since: 0 })).packets >= 10, { what: 'media at D' })
  })

  it('with two workers, a dead worker: its producers close swarm-wide and are not restored, the others flow on, a new worker replaces it', async () => {
    const [a, c, d] = await startNodes(nodes, 3, (i) => i === 0 ? { numWorkers: 2 } : {}) as [RemoteNode, RemoteNode, RemoteNode]
    const [first, second] = await a.request('workerPids', {}) as [number, number]
    // The node's first router is on its first worker; a new router goes to the other one.
    const { producerId: onFirst } = await a.request('createSource', { kind: 'audio', packetsPerSecond: PPS })
    const { producerId: onSecond } = await a.request('createSource', { kind: 'audio', packetsPerSecond: PPS, inNewRouter: true })
    for (const producerId of [onFirst, onSecond]) {
      await a.request('startSource', { producerId })
      await c.request('watch', { producerId })
    }
    const killedAt = epochNow()
    process.kill(first, 'SIGKILL')
    await waitFor(async () => (await c.request('watchReport', { producerId: onFirst, since: 0 })).events.some((e) => e.type === 'copyclosed'),
      { timeoutMs: 2000, what: 'the copy of the dead worker\'s producer closed at C' })
    await sleep(1500)
    const lost = await c.request('watchReport', { producerId: onFirst, since: 0 })
    assert.ok(!lost.events.some((e) => e.type === 'producerrestored'), JSON.stringify(lost.events))
    assert.equal(lost.upstream, null)
    const kept = await c.request('watchReport', { producerId: onSecond, since: killedAt - 1000 })
    assert.ok(largestGap(kept.arrivals, killedAt, epochNow()).gapMs < 300, 'the other worker\'s stream went on')
    const pids = await a.request('workerPids', {})
    assert.equal(pids.length, 2)
    assert.ok(pids.includes(second) && !pids.includes(first))
    // The node serves as before: a new router (on the replacement worker) and a new pull.
    const { producerId: fresh } = await a.request('createSource', { kind: 'audio', packetsPerSecond: PPS, inNewRouter: true })
    await a.request('startSource', { producerId: fresh })
    await d.request('watch', { producerId: fresh })
    await waitFor(async () => (await d.request('watchReport', { producerId: fresh, since: 0 })).packets >= 10, { what: 'media of the new producer at D' })
    assert.deepEqual((await a.request('counts', {})).errors, [])
  })

  it('a node whose only worker dies stops: the other nodes see it leave', async () => {
    const [a, c] = await startNodes(nodes, 2, () => ({})) as [RemoteNode, RemoteNode]
    const [worker] = await a.request('workerPids', {}) as [number]
    process.kill(worker, 'SIGKILL')
    await waitFor(async () => !(await c.request('info', {})).peers.includes(a.peerId), { timeoutMs: 3000, what: 'A gone from C\'s peers' })
  })
})
