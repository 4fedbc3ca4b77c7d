import assert from 'node:assert/strict'
import { createSwarmNode, InvalidStateError } from '../../src/index.js'
import { createRtpSink, createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

describe('pipeToRouter() inside one node', function () {
  this.timeout(20_000)
  let node: SwarmNode
  const closers: Array<() => unknown> = []

  beforeEach(async () => { node = await createSwarmNode({ numWorkers: 2 }) })
  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await node.stop()
  })

  it('returns the producer itself when it is already in the router', async () => {
    const router = await node.createRouter({ mediaCodecs })
    const source = await createRtpSource({ router, kind: 'audio' })
    closers.push(() => source.close())
    const { pipeProducer } = await node.pipeToRouter({ producerId: source.producer.id, router })
    assert.equal(pipeProducer, source.producer)
  })

  it("uses mediasoup's own pipeToRouter() between routers of two workers, and media flows", async () => {
    const r1 = await node.createRouter({ mediaCodecs })
    const r2 = await node.createRouter({ mediaCodecs })
    const source = await createRtpSource({ router: r1, kind: 'audio' })
    closers.push(() => source.close())
    const { pipeProducer } = await node.pipeToRouter({ producerId: source.producer.id, router: r2 })
    assert.equal(pipeProducer.id, source.producer.id)
    assert.equal(node.pipeStats.incomingPipes, 0, 'a cross-node pipe was made for a local producer')
    const sink = await createRtpSink({ router: r2, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 3000 })
  })

  it('refuses a second copy of a producer id on the same worker with InvalidStateError', async () => {
    const r1 = await node.createRouter({ mediaCodecs })
    await node.createRouter({ mediaCodecs })
    const r3 = await node.createRouter({ mediaCodecs }) // same worker as r1 (two workers, round robin)
    const source = await createRtpSource({ router: r1, kind: 'audio' })
    closers.push(() => source.close())
    await assert.rejects(node.pipeToRouter({ producerId: source.producer.id, router: r3 }), InvalidStateError)
  })

  it('two routers pulling one remote producer at once make one cross-node pull; the second gets a local pipe', async () => {
    const origin = await createSwarmNode({ bootstrap: node.multiaddrs })
    closers.push(async () => await origin.stop())
    await waitFor(() => node.peers.length === 1, { timeoutMs: 3000, what: 'nodes connected' })
    const source = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const r1 = await node.createRouter({ mediaCodecs })
    const r2 = await node.createRouter({ mediaCodecs })
    const [p1, p2] = await Promise.all([
      node.pipeToRouter({ producerId: source.producer.id, router: r1 }),
      node.pipeToRouter({ producerId: source.producer.id, router: r2 })
    ])
    assert.equal(p1.pipeProducer.id, p2.pipeProducer.id)
    assert.notEqual(p1.pipeProducer, p2.pipeProducer)
    assert.equal(node.pipeStats.incomingPipes, 1)
    assert.equal(origin.pipeStats.outgoingConsumers, 1)
    const sink = await createRtpSink({ router: r2, producerId: source.producer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 3000 })
  })
})
