import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidStateError, ProducerNotFoundError } from '../../src/index.js'
import { decodeResponse, pipeProtocolId } from '../../src/protocol/messages.js'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { types as ms } from 'mediasoup'

describe('swarm federation: A ← B ← C (C bootstraps from B only)', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  let a: SwarmNode, b: SwarmNode, c: SwarmNode
  let routerA: ms.Router, routerC: ms.Router
  const closers: Array<() => unknown> = []

  beforeEach(async () => {
    nodes = await startChain(3, { timeouts: { lookup: 2000 } })
    ;[a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    await waitConnected(nodes)
    routerA = await a.createRouter({ mediaCodecs })
    routerC = await c.createRouter({ mediaCodecs })
  })

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
  })

  async function publishAndPull (kind: 'audio' | 'video', packetsPerSecond = 100): Promise<{ source: Awaited<ReturnType<typeof createRtpSource>>, sink: Awaited<ReturnType<typeof createRtpSink>>, copy: ms.Producer }> {
    const source = await createRtpSource({ router: routerA, kind, packetsPerSecond })
    closers.push(() => source.close())
    const { pipeProducer } = await c.pipeToRouter({ producerId: source.producer.id, router: routerC })
    const sink = await createRtpSink({ router: routerC, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(1, { timeoutMs: 5000 })
    return { source, sink, copy: pipeProducer }
  }

  async function deliveryAfterSetup (source: { sent: number }, sink: { packets: number }, ms: number): Promise<number> {
    const sent0 = source.sent
    const received0 = sink.packets
    await sleep(ms)
    // Packets in flight when counting stops are allowed for by a short drain.
    const sent = source.sent - sent0
    await sleep(100)
    return (sink.packets - received0) / sent
  }

  it('C pulls an audio producer of A with pipeToRouter() and receives ≥ 95 % of packets', async () => {
    const { source, sink, copy } = await publishAndPull('audio')
    assert.equal(copy.kind, 'audio')
    const ratio = await deliveryAfterSetup(source, sink, 2000)
    assert.ok(ratio >= 0.95, `delivered ${(ratio * 100).toFixed(1)} %`)
    assert.equal(sink.stats().wrongPayloadType, 0)
  })

  it('C pulls a video producer of A (VP8 key frames, RTX) and receives ≥ 95 % of packets', async () => {
    const { source, sink } = await publishAndPull('video')
    const ratio = await deliveryAfterSetup(source, sink, 2000)
    assert.ok(ratio >= 0.95, `delivered ${(ratio * 100).toFixed(1)} %`)
  })

  it('the copy on C has the same id, kind, paused state and appData as the origin', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'audio', appData: { room: 'r1', user: 7 }, paused: true })
    closers.push(() => source.close())
    const { pipeProducer } = await c.pipeToRouter({ producerId: source.producer.id, router: routerC })
    assert.equal(pipeProducer.id, source.producer.id)
    assert.equal(pipeProducer.kind, 'audio')
    assert.equal(pipeProducer.paused, true)
    assert.deepEqual(pipeProducer.appData, { room: 'r1', user: 7 })
  })

  it('pause at A stops packets at C, resume restarts them', async () => {
    const { source, sink, copy } = await publishAndPull('audio')
    await source.producer.pause()
    await waitFor(() => copy.paused, { timeoutMs: 2000, what: 'copy paused on C' })
    await sleep(300)
    const atPause = sink.packets
    await sleep(700)
    assert.equal(sink.packets, atPause, 'packets kept arriving while paused')
    await source.producer.resume()
    await sink.waitForPackets(atPause + 20, { timeoutMs: 3000 })
    assert.equal(copy.paused, false)
  })

  it("close at A closes C's producer and its consumer within 2 s", async () => {
    const { source, sink, copy } = await publishAndPull('audio')
    const consumerClosed = new Promise<number>((resolve) => sink.consumer.once('producerclose', () => resolve(Date.now())))
    const closedAt = Date.now()
    source.producer.close()
    const elapsed = await Promise.race([consumerClosed, sleep(2000).then(() => Infinity)]) - closedAt
    assert.ok(elapsed <= 2000, `consumer closed after ${elapsed} ms`)
    assert.equal(copy.closed, true)
    await waitFor(() => a.pipeStats.outgoingPipes === 0 && c.pipeStats.incomingPipes === 0, { timeoutMs: 2000, what: 'both pipe ends closed' })
  })

  it("closing the origin's router closes C's copy and both pipe ends", async () => {
    const { copy, sink } = await publishAndPull('audio')
    const consumerClosed = new Promise<void>((resolve) => sink.consumer.once('producerclose', () => resolve()))
    routerA.close()
    await Promise.race([consumerClosed, sleep(2000).then(() => { throw new Error('copy not closed within 2 s') })])
    assert.equal(copy.closed, true)
    await waitFor(() => a.pipeStats.outgoingPipes === 0 && c.pipeStats.incomingPipes === 0, { timeoutMs: 2000, what: 'both pipe ends closed' })
  })

  it("closing C's copy releases it at A and closes both pipe ends", async () => {
    const { copy } = await publishAndPull('audio')
    copy.close()
    await waitFor(() => a.pipeStats.outgoingPipes === 0 && c.pipeStats.incomingPipes === 0, { timeoutMs: 2000, what: 'both pipe ends closed' })
    const { pipeProducer } = await c.pipeToRouter({ producerId: copy.id, router: routerC })
    assert.equal(pipeProducer.closed, false, 'could not pull again after releasing')
  })

  it("stopping node A closes C's copy", async () => {
    const { copy, sink } = await publishAndPull('audio')
    const consumerClosed = new Promise<void>((resolve) => sink.consumer.once('producerclose', () => resolve()))
    await a.stop()
    await Promise.race([consumerClosed, sleep(5000).then(() => { throw new Error('copy not closed within 5 s') })])
    assert.equal(copy.closed, true)
    assert.equal(c.pipeStats.incomingPipes, 0)
  })

  it("a key frame request from C's consumer reaches A's producer side", async () => {
    const { source, sink } = await publishAndPull('video')
    // mediasoup folds a request into one still pending (the consumer's own initial one).
    await sleep(1000)
    const before = source.keyFrameRequests
    await sink.consumer.requestKeyFrame()
    await waitFor(() => source.keyFrameRequests > before, { timeoutMs: 3000, what: 'PLI/FIR at the source' })
  })

  it('two concurrent pipeToRouter() calls for one producer make one pipe and one copy', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'audio' })
    closers.push(() => source.close())
    const [r1, r2] = await Promise.all([
      c.pipeToRouter({ producerId: source.producer.id, router: routerC }),
      c.pipeToRouter({ producerId: source.producer.id, router: routerC })
    ])
    assert.equal(r1.pipeProducer, r2.pipeProducer)
    assert.deepEqual(c.pipeStats, { outgoingPipes: 0, incomingPipes: 1, outgoingConsumers: 0, incomingProducers: 1 })
    assert.equal(a.pipeStats.outgoingConsumers, 1)
  })

  it('producers between the same two routers share one pipe', async () => {
    const s1 = await createRtpSource({ router: routerA, kind: 'audio' })
    const s2 = await createRtpSource({ router: routerA, kind: 'video' })
    closers.push(() => s1.close(), () => s2.close())
    await c.pipeToRouter({ producerId: s1.producer.id, router: routerC })
    await c.pipeToRouter({ producerId: s2.producer.id, router: routerC })
    assert.equal(c.pipeStats.incomingPipes, 1)
    assert.equal(c.pipeStats.incomingProducers, 2)
    s1.close()
    await waitFor(() => c.pipeStats.incomingProducers === 1, { timeoutMs: 2000, what: 'first copy closed' })
    assert.equal(c.pipeStats.incomingPipes, 1, 'pipe closed while a producer still uses it')
    s2.close()
    await waitFor(() => c.pipeStats.incomingPipes === 0 && a.pipeStats.outgoingPipes === 0, { timeoutMs: 2000, what: 'last producer closed the pipe' })
  })

  it('a new pipe costs one request (the origin connects to the offered transport); a second origin router falls back to connect-pipe', async () => {
    // Origin producers in two routers of A (on one worker: two pipes from A to C's router).
    const routerA2 = await a.createRouter({ mediaCodecs })
    const s1 = await createRtpSource({ router: routerA, kind: 'audio', packetsPerSecond: 100 })
    const s2 = await createRtpSource({ router: routerA2, kind: 'video', packetsPerSecond: 100 })
    closers.push(() => s1.close(), () => s2.close())
    const before = a.requestCounts

    const { pipeProducer: p1 } = await c.pipeToRouter({ producerId: s1.producer.id, router: routerC })
    assert.deepEqual({ pull: a.requestCounts.pull ?? 0, connect: a.requestCounts['connect-pipe'] ?? 0 },
      { pull: (before.pull ?? 0) + 1, connect: before['connect-pipe'] ?? 0 }, 'first pipe: one pull, no connect-pipe')

    // C has a pipe from A into routerC now, so it offers nothing; A's pipe from routerA2 is new.
    const { pipeProducer: p2 } = await c.pipeToRouter({ producerId: s2.producer.id, router: routerC })
    assert.deepEqual({ pull: a.requestCounts.pull ?? 0, connect: a.requestCounts['connect-pipe'] ?? 0 },
      { pull: (before.pull ?? 0) + 2, connect: (before['connect-pipe'] ?? 0) + 1 }, 'second pipe: one pull and one connect-pipe')
    assert.equal(c.pipeStats.incomingPipes, 2)
    assert.equal(a.pipeStats.outgoingPipes, 2)

    const sinks = await Promise.all([p1, p2].map(async (p) => await createRtpSink({ router: routerC, producerId: p.id })))
    closers.push(...sinks.map((sink) => () => sink.close()))
    await Promise.all(sinks.map(async (sink) => await sink.waitForPackets(50, { timeoutMs: 3000 })))

    s1.close()
    s2.close()
    await waitFor(() => c.pipeStats.incomingPipes === 0 && a.pipeStats.outgoingPipes === 0, { timeoutMs: 2000, what: 'both pipes closed' })
  })

  it('an unknown producer id fails with ProducerNotFoundError after the lookup timeout', async () => {
    const started = Date.now()
    await assert.rejects(c.pipeToRouter({ producerId: 'no-such-producer', router: routerC }), ProducerNotFoundError)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 1900 && elapsed < 4000, `gave up after ${elapsed} ms`)
    assert.deepEqual(c.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
  })

  it('bad arguments to pipeToRouter() throw TypeError; a stopped node throws InvalidStateError', async () => {
    await assert.rejects(c.pipeToRouter({ producerId: '', router: routerC }), TypeError)
    await assert.rejects(c.pipeToRouter({ producerId: 'x', router: routerA }), TypeError)
    await assert.rejects(c.pipeToRouter({ producerId: 'x', router: undefined as never }), TypeError)
    await c.stop()
    await assert.rejects(c.pipeToRouter({ producerId: 'x', router: routerC }), InvalidStateError)
  })

  it('a malformed protocol message gets an error answer, is counted, and the node keeps serving', async () => {
    const protocol = pipeProtocolId('/mediasoup-swarm')
    // One session stream, as a node opens it; each bad frame is answered with its id (null when unreadable).
    const stream = await b.libp2p.dialProtocol(peerIdFromString(a.peerId), protocol)
    const lp = lpStream(stream)
    for (const [garbage, id] of [
      ['{not json', null], [JSON.stringify({ id: 1, type: 'pull', producerId: 42 }), 1], [JSON.stringify({ id: 2, type: 'launch' }), 2], [JSON.stringify({ type: 'status' }), null]
    ] as const) {
      await lp.write(new TextEncoder().encode(garbage))
      const bytes = (await lp.read()).subarray()
      assert.equal(decodeResponse(bytes).type, 'error')
      assert.equal(JSON.parse(new TextDecoder().decode(bytes)).id, id)
    }
    // The same stream still answers a good request.
    await lp.write(new TextEncoder().encode(JSON.stringify({ id: 3, type: 'status' })))
    assert.equal(decodeResponse((await lp.read()).subarray()).type, 'status-ok')
    assert.deepEqual(a.protocolErrorCounts, { 'bad-message': 3, 'unknown-type': 1 })
    const { sink } = await publishAndPull('audio')
    assert.ok(sink.packets > 0)
  })
})
