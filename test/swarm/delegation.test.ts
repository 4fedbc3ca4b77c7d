import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { CapacityError, createSwarmNode, RedirectLimitError } from '../../src/index.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import { createHost } from '../../src/p2p/host.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request, serve } from '../../src/protocol/rpc.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { RtpSink } from '../harness/index.js'
import type { RemoteError, SwarmNode } from '../../src/index.js'
import type { Host } from '../../src/p2p/host.js'

/** Follows upstream links from `node` to the origin; fails on a cycle. */
function depthOf (nodes: SwarmNode[], node: SwarmNode, producerId: string): number {
  const byId = new Map(nodes.map((n) => [n.peerId, n]))
  const seen = new Set<string>()
  let depth = 0
  let current: SwarmNode | undefined = node
  while (current !== undefined) {
    assert.ok(!seen.has(current.peerId), `loop through ${current.peerId}`)
    seen.add(current.peerId)
    const upstream = current.getDistribution(producerId)?.upstream ?? null
    if (upstream === null) return depth
    depth++
    current = byId.get(upstream)
  }
  throw new Error('upstream chain left the swarm')
}

describe('delegation trees', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  const closers: Array<() => unknown> = []

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
    nodes = []
  })

  it('origin with fan-out 2: ten nodes asking at once get the stream through a tree (≤ 2 pipes at the origin, depth ≤ 5, ≥ 95 % delivered)', async () => {
    nodes = await startChain(11, { fanout: 2, timeouts: { lookup: 8000 } })
    await waitConnected(nodes, 10_000)
    const [origin, ...subscribers] = nodes as [SwarmNode, ...SwarmNode[]]
    const source = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    await sleep(300)

    const sinks: RtpSink[] = await Promise.all(subscribers.map(async (node) => {
      const router = await node.createRouter({ mediaCodecs })
      await node.pipeToRouter({ producerId: source.producer.id, router })
      const sink = await createRtpSink({ router, producerId: source.producer.id })
      closers.push(() => sink.close())
      return sink
    }))

    const atOrigin = origin.getDistribution(source.producer.id)
    assert.ok(atOrigin !== undefined)
    assert.ok(atOrigin.downstream.length <= 2, `origin serves ${atOrigin.downstream.length} pipes`)
    for (const node of subscribers) {
      const depth = depthOf(nodes, node, source.producer.id)
      assert.ok(depth >= 1 && depth <= 5, `depth ${depth}`)
      assert.ok(node.getDistribution(source.producer.id)!.downstream.length <= 2)
    }

    await Promise.all(sinks.map(async (sink) => await sink.waitForPackets(1, { timeoutMs: 5000 })))
    const sent0 = source.sent
    const received0 = sinks.map((s) => s.packets)
    await sleep(2000)
    const sent = source.sent - sent0
    await sleep(150)
    sinks.forEach((sink, i) => {
      const ratio = (sink.packets - received0[i]!) / sent
      assert.ok(ratio >= 0.95, `subscriber ${i} got ${(ratio * 100).toFixed(1)} %`)
    })
  })

  it('a relay reports its upstream and downstream, and emits distributionchange', async () => {
    nodes = await startChain(3, { fanout: 1 })
    await waitConnected(nodes)
    const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'video' })
    closers.push(() => source.close())
    const changes: string[] = []
    b.on('distributionchange', (id) => changes.push(id))
    await b.pipeToRouter({ producerId: source.producer.id, router: await b.createRouter({ mediaCodecs }) })
    await c.pipeToRouter({ producerId: source.producer.id, router: await c.createRouter({ mediaCodecs }) })
    assert.deepEqual(a.getDistribution(source.producer.id)?.downstream, [b.peerId])
    const atB = b.getDistribution(source.producer.id)!
    assert.equal(atB.upstream, a.peerId)
    assert.equal(atB.origin, a.peerId)
    assert.deepEqual(atB.downstream, [c.peerId])
    assert.deepEqual(c.getDistribution(source.producer.id)?.route, [a.peerId, b.peerId, c.peerId])
    assert.ok(changes.length >= 2 && changes.every((id) => id === source.producer.id))
    const reported = atB.downstreamLoad[c.peerId]
    assert.ok(reported !== undefined && reported.capacity === c.capacity.capacity)
  })

  it('a node never pulls from a node whose copy comes through it (loop answer, nothing left behind)', async () => {
    nodes = await startChain(3, { fanout: 1 })
    await waitConnected(nodes)
    const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    await b.pipeToRouter({ producerId: source.producer.id, router: await b.createRouter({ mediaCodecs }) })
    await c.pipeToRouter({ producerId: source.producer.id, router: await c.createRouter({ mediaCodecs }) })
    assert.equal(c.getDistribution(source.producer.id)?.upstream, b.peerId)
    // C receives through B. Ask C, on B's behalf, for the stream into another router of B:
    // C must refuse, because B is upstream of C's copy.
    const before = { b: b.pipeStats, c: c.pipeStats }
    const answer = await request(b.libp2p, c.peerId, pipeProtocolId('/mediasoup-swarm'),
      { type: 'pull', producerId: source.producer.id, linkId: 'loop-test', rtts: {}, recruited: false, load: 0, capacity: 1 }, 3000)
      .then(() => 'served', (err: RemoteError) => err.code)
    assert.equal(answer, 'loop')
    assert.deepEqual({ b: b.pipeStats, c: c.pipeStats }, before)
  })

  it('when the origin and its relays are full the requester gets CapacityError', async () => {
    // Capacity 1 point, audio pipes and consumers cost 1, no reserve: A can feed one pipe,
    // B (one local consumer) is full, nobody else has room.
    nodes = await startChain(3, { capacity: 1, recruitReserve: 0, timeouts: { lookup: 3000 } })
    await waitConnected(nodes)
    const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const routerB = await b.createRouter({ mediaCodecs })
    await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sink.close())
    await waitFor(() => b.capacity.load === 1, { timeoutMs: 2000, what: 'B loaded' })
    await assert.rejects(c.pipeToRouter({ producerId: source.producer.id, router: await c.createRouter({ mediaCodecs }) }), CapacityError)
    assert.deepEqual(c.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
  })

  /**
   * A feeds one pipe (fan-out 1) and keeps room for one recruited relay. B takes A's only
   * slot and is full itself (capacity 1, one local consumer); C and D are idle. Returns
   * the nodes and the source on A, with B receiving and full.
   */
  async function fullOriginAndRelay (prepareD: (d: SwarmNode) => Promise<unknown> = async () => {}): Promise<{ a: SwarmNode, b: SwarmNode, c: SwarmNode, d: SwarmNode, producerId: string }> {
    const a = await createSwarmNode({ fanout: 1 })
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, capacity: 1, recruitReserve: 0 })
    const c = await createSwarmNode({ bootstrap: a.multiaddrs })
    const d = await createSwarmNode({ bootstrap: a.multiaddrs })
    nodes = [a, b, c, d]
    await waitConnected(nodes)
    await prepareD(d)
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    const routerB = await b.createRouter({ mediaCodecs })
    await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sinkB = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sinkB.close())
    await waitFor(() => b.capacity.spare === 0, { timeoutMs: 2000, what: 'B full' })
    return { a, b, c, d, producerId: source.producer.id }
  }

  it('a full origin recruits an idle node as relay and redirects the requester to it', async () => {
    const { a, b, c, d, producerId } = await fullOriginAndRelay()
    const routerC = await c.createRouter({ mediaCodecs })
    await c.pipeToRouter({ producerId, router: routerC })
    const sink = await createRtpSink({ router: routerC, producerId })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 5000 })
    assert.deepEqual(a.getDistribution(producerId)?.downstream.sort(), [b.peerId, d.peerId].sort())
    assert.equal(d.getDistribution(producerId)?.upstream, a.peerId)
    assert.equal(c.getDistribution(producerId)?.upstream, d.peerId)
    // D had no router: it made one for relaying.
    assert.equal(d.routers().length, 1)
  })

  it('a recruited node with a router of its own relays from it, so its own clients can consume the stream', async () => {
    let routerD: Awaited<ReturnType<SwarmNode['createRouter']>> | undefined
    const { c, d, producerId } = await fullOriginAndRelay(async (d) => { routerD = await d.createRouter({ mediaCodecs }) })
    await c.pipeToRouter({ producerId, router: await c.createRouter({ mediaCodecs }) })
    assert.equal(c.getDistribution(producerId)?.upstream, d.peerId, 'D was not recruited')
    assert.deepEqual(d.routers(), [routerD])
    const { pipeProducer } = await d.pipeToRouter({ producerId, router: routerD! })
    const sinkD = await createRtpSink({ router: routerD!, producerId: pipeProducer.id })
    closers.push(() => sinkD.close())
    await sinkD.waitForPackets(20, { timeoutMs: 3000 })
  })

  it('a node recruited while its own pull is under way makes no second copy: it answers ok once that pull is done', async () => {
    nodes = await startChain(2)
    await waitConnected(nodes)
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    const routerB = await b.createRouter({ mediaCodecs })
    const errors: Error[] = []
    b.on('error', (err) => errors.push(err))
    const pull = b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const recruit = request(a.libp2p, b.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'recruit', producerId: source.producer.id }, 5000)
    const [{ pipeProducer }, answer] = await Promise.all([pull, recruit])
    assert.equal(answer.type, 'ok')
    assert.deepEqual(b.pipeStats, { outgoingPipes: 0, incomingPipes: 1, outgoingConsumers: 0, incomingProducers: 1 })
    assert.deepEqual(a.getDistribution(source.producer.id)?.downstream, [b.peerId])
    assert.deepEqual(errors, [])
    const sink = await createRtpSink({ router: routerB, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 3000 })
  })

  describe('redirect hop limit', () => {
    const hosts: Host[] = []
    afterEach(async () => { await Promise.all(hosts.splice(0).map(async (h) => await h.stop())) })

    it('a requester gives up with RedirectLimitError after maxRedirects hops of redirects', async () => {
      nodes = await startChain(1, { maxRedirects: 2, timeouts: { lookup: 3000 } })
      const [requester] = nodes as [SwarmNode]
      const protocol = pipeProtocolId('/mediasoup-swarm')
      // Five misbehaving nodes, each redirecting every pull to the next one.
      for (let i = 0; i < 5; i++) {
        const host = await createHost({
          privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
          protocolPrefix: '/mediasoup-swarm', addressPolicy: 'all',
          providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
        })
        await host.start()
        await host.dial(multiaddr(requester.multiaddrs[0]!))
        hosts.push(host)
      }
      const asked: number[] = []
      hosts.forEach((host, i) => {
        void serve(host, protocol, async (req) => {
          // The requester may also ask them as homes of the producer (locate): not a hop.
          if (req.type !== 'pull') return { type: 'error', code: 'not-found', message: 'no records here' }
          asked.push(i)
          const next = hosts[i + 1]
          if (next === undefined) return { type: 'error', code: 'not-found', message: 'end' }
          return { type: 'redirect', producerId: req.producerId, candidates: [{ peerId: next.peerId.toString(), multiaddrs: next.getMultiaddrs().map(String) }] }
        }, () => {})
      })
      await waitFor(() => requester.peers.length === 5, { timeoutMs: 5000, what: 'misbehaving nodes connected' })
      await hosts[0]!.contentRouting.provide(await producerKey('bouncing-producer'))
      const router = await requester.createRouter({ mediaCodecs })
      await assert.rejects(requester.pipeToRouter({ producerId: 'bouncing-producer', router }), RedirectLimitError)
      assert.deepEqual(asked, [0, 1, 2], 'followed more redirects than allowed')
      assert.deepEqual(requester.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
    })
  })
})
