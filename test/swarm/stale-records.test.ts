import assert from 'node:assert/strict'
import { createSwarmNode } from '../../src/index.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import { createRtpSink, createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

// Provider records outlive their producer (the DHT has no "unprovide"): a requester must
// skip stale records and dead peers quickly and reach a node that really has it, and undo
// what an answer that came too late built.
describe('stale provider records, dead peers and late answers', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  const closers: Array<() => unknown> = []
  const producerId = 'a2f1e0b4-0c1d-4f2e-9a3b-5c6d7e8f9a0b'

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
  })

  async function announceOn (node: SwarmNode): Promise<void> {
    const source = await createRtpSource({ router: await node.createRouter({ mediaCodecs }), kind: 'audio', producerId })
    closers.push(() => source.close())
    // Wait until the provider record is stored before going on.
    for await (const _ of node.libp2p.contentRouting.findProviders(await producerKey(producerId), { signal: AbortSignal.timeout(2000) })) break
  }

  it('skips a provider whose producer closed and pulls from the node that has it now', async () => {
    nodes = await startChain(4)
    await waitConnected(nodes)
    const [a, b, , d] = nodes as [SwarmNode, SwarmNode, SwarmNode, SwarmNode]
    const first = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', producerId })
    first.close()
    await announceOn(b)
    const started = Date.now()
    const router = await d.createRouter({ mediaCodecs })
    await d.pipeToRouter({ producerId, router })
    const elapsed = Date.now() - started
    assert.equal(d.getDistribution(producerId)?.upstream, b.peerId)
    assert.ok(elapsed < 1500, `took ${elapsed} ms`)
    const sink = await createRtpSink({ router, producerId })
    closers.push(() => sink.close())
    await sink.waitForPackets(10, { timeoutMs: 3000 })
  })

  it('skips a provider that is gone (stopped node) and pulls from the node that has it now', async () => {
    nodes = await startChain(4)
    await waitConnected(nodes)
    const [a, b, , d] = nodes as [SwarmNode, SwarmNode, SwarmNode, SwarmNode]
    await announceOn(a)
    await a.stop()
    await announceOn(b)
    const started = Date.now()
    await d.pipeToRouter({ producerId, router: await d.createRouter({ mediaCodecs }) })
    const elapsed = Date.now() - started
    assert.equal(d.getDistribution(producerId)?.upstream, b.peerId)
    assert.ok(elapsed < 1500, `took ${elapsed} ms`)
  })

  it('provider records of a stopped node expire after the provider validity', async () => {
    nodes = await startChain(3, { timeouts: { providerValidity: 3000 } })
    await waitConnected(nodes)
    const [a, , c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    await announceOn(a)
    const key = await producerKey(producerId)
    const providersSeenBy = async (node: SwarmNode): Promise<string[]> => {
      const found: string[] = []
      try {
        for await (const p of node.libp2p.contentRouting.findProviders(key, { signal: AbortSignal.timeout(500) })) found.push(p.id.toString())
      } catch {
        // The lookup deadline ends the search; what was found so far is the answer.
      }
      return found
    }
    await waitFor(async () => (await providersSeenBy(c)).includes(a.peerId), { timeoutMs: 3000, what: "C sees A's record" })
    await a.stop()
    const stopped = Date.now()
    while ((await providersSeenBy(c)).includes(a.peerId)) {
      assert.ok(Date.now() - stopped < 10_000, 'record still there 10 s after a 3 s validity')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })

  it('a pull answered after its deadline is released: the origin keeps no consumer, pipe or downstream slot for a copy nobody made', async () => {
    const a = await createSwarmNode()
    // Every request of B runs out of time (a pull gets 2.5 × 0.2 ms, rounded up to 1 ms)
    // before the origin can answer (a worker round trip or two): the lookup ends before a
    // second attempt (200 ms later), so exactly one pull is sent.
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, timeouts: { request: 0.2, lookup: 150 } })
    nodes = [a, b]
    await waitConnected(nodes)
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const routerB = await b.createRouter({ mediaCodecs })
    // B's store has A's record, and its request session to A is open: the pull is sent at once.
    await waitFor(async () => {
      for await (const provider of b.libp2p.services.dht.findProviders(await producerKey(source.producer.id), { signal: AbortSignal.timeout(500) })) {
        if (provider.name === 'PROVIDER' && provider.providers.some((p) => p.id.equals(a.libp2p.peerId))) return true
      }
      return false
    }, { what: "A's record at B" })
    await request(b.libp2p, a.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'status' }, 2000)

    await assert.rejects(b.pipeToRouter({ producerId: source.producer.id, router: routerB }), /tried .*: timeout/)
    assert.equal(a.requestCounts.pull, 1)
    await waitFor(() => a.requestCounts.release === 1, { what: 'the release', timeoutMs: 3000 })
    await waitFor(() => a.pipeStats.outgoingConsumers === 0 && a.pipeStats.outgoingPipes === 0, { what: 'the origin released everything', timeoutMs: 3000 })
    assert.deepEqual(a.getDistribution(source.producer.id)?.downstream, [])
    assert.deepEqual(b.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
  })
})
