import assert from 'node:assert/strict'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'
import type { types as ms } from 'mediasoup'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_MS = 300
const MEDIA_SILENCE_MS = 400

/** Pings a replaced handler saw, by number (from 0, in order of arrival). */
interface PingsSeen {
  unanswered: number[]
  /** Those it echoed. */
  answered: number[]
}

/**
 * Replaces `node`'s ping handler with one that leaves the pings `unanswered(n)` picks (n
 * counts from 0) open and never echoed, as a frozen process would, and answers the others.
 * Returns what it saw, so a test knows the pings really reached it.
 */
async function answerPingsExcept (node: SwarmNode, unanswered: (n: number) => boolean): Promise<PingsSeen> {
  const seen: PingsSeen = { unanswered: [], answered: [] }
  let count = 0
  await node.libp2p.unhandle(PING_PROTOCOL)
  await node.libp2p.handle(PING_PROTOCOL, async (stream) => {
    const n = count++
    if (unanswered(n)) {
      seen.unanswered.push(n)
      return
    }
    for await (const chunk of stream) {
      stream.send(chunk)
      if (!seen.answered.includes(n)) seen.answered.push(n)
    }
    await stream.close()
  }, { maxInboundStreams: 64 })
  return seen
}

describe('peer liveness (ping every timeouts.ping)', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  const closers: Array<() => unknown> = []

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
    nodes = []
  })

  /** Nodes A and B pinging every PING_MS; A pulls an audio producer of B into a router. */
  async function aPullsFromB (): Promise<{ a: SwarmNode, b: SwarmNode, router: ms.Router, pipeProducer: ms.Producer, source: RtpSource }> {
    nodes = await startChain(2, { timeouts: { ping: PING_MS, mediaSilence: MEDIA_SILENCE_MS } })
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    const source = await createRtpSource({ router: await b.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const router = await a.createRouter({ mediaCodecs })
    const { pipeProducer } = await a.pipeToRouter({ producerId: source.producer.id, router })
    return { a, b, router, pipeProducer, source }
  }

  it('measures round-trip times to connected peers (node.rtts()), a new peer at once rather than a period later', async () => {
    nodes = await startChain(2, { timeouts: { ping: 60_000 } })
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    await waitFor(() => a.rtts()[b.peerId] !== undefined && b.rtts()[a.peerId] !== undefined, { what: 'RTTs measured', timeoutMs: 3000 })
    const rtt = a.rtts()[b.peerId]!
    assert.ok(rtt >= 0 && rtt < 250, `rtt ${rtt} ms on loopback`)
  })

  it('one unanswered ping does not drop a peer: its connection and the media on it go on', async () => {
    const { a, b, router, pipeProducer } = await aPullsFromB()
    const sink = await createRtpSink({ router, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(1, { timeoutMs: 5000 })
    const connection = a.libp2p.getConnections(b.libp2p.peerId)[0]!

    const pings = await answerPingsExcept(b, (n) => n === 0)
    await sleep(PING_MS * 6)
    // A's pings reached the new handler: the first went unanswered, a later one was answered.
    await waitFor(() => pings.answered.some((n) => n > 0), { what: 'a ping answered after the unanswered one', progress: () => `unanswered [${pings.unanswered.join(', ')}], answered [${pings.answered.join(', ')}], connection ${connection.status}` })
    assert.deepEqual(pings.unanswered, [0])
    assert.equal(connection.status, 'open')
    assert.equal(pipeProducer.closed, false)
    const before = sink.packets
    await sleep(500)
    assert.ok(sink.packets > before, 'media still flows')
  })

  it('a peer that answers no ping but whose media flows is kept (a frozen Node.js process, its worker forwarding)', async () => {
    const { a, b, router, pipeProducer } = await aPullsFromB()
    const sink = await createRtpSink({ router, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(1, { timeoutMs: 5000 })

    const pings = await answerPingsExcept(b, () => true)
    await sleep(PING_MS * 6)
    assert.equal(a.peers.includes(b.peerId), true)
    assert.equal(pipeProducer.closed, false)
    const before = sink.packets
    await sleep(300)
    assert.ok(sink.packets > before, 'media still flows')
    // Kept although its pings really went unanswered.
    assert.ok(pings.unanswered.length >= 2, `unanswered pings: ${pings.unanswered.length}`)
  })

  it('a peer that answers no ping and sends no media is given up within mediaSilence + livenessPing, and the copies pulled from it close', async () => {
    const { a, b, pipeProducer, source } = await aPullsFromB()

    await answerPingsExcept(b, () => true)
    source.stop()
    const frozenAt = performance.now()
    await waitFor(() => pipeProducer.closed, { what: 'the copy closed', timeoutMs: MEDIA_SILENCE_MS + 500 + 3000 })
    const tookMs = performance.now() - frozenAt
    // One check period (a quarter of the silence), the ping's deadline, and room for a busy machine.
    assert.ok(tookMs <= MEDIA_SILENCE_MS * 1.25 + 500 + 600, `given up after ${tookMs.toFixed(0)} ms`)
    assert.equal(a.getDistribution(pipeProducer.id), undefined)
    assert.equal(a.peers.includes(b.peerId), false)
  })

  it('an idle peer (no media from it) that answers no ping is given up within 3 × timeouts.ping', async () => {
    nodes = await startChain(2, { timeouts: { ping: PING_MS } })
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    const pings = await answerPingsExcept(b, () => true)
    const frozenAt = performance.now()
    await waitFor(() => !a.peers.includes(b.peerId), { what: 'B given up', timeoutMs: PING_MS * 3 + 2000 })
    const tookMs = performance.now() - frozenAt
    // Given up for pings it left unanswered (two in a row), not for something else.
    assert.ok(pings.unanswered.length >= 2, `unanswered pings: ${pings.unanswered.length}`)
    assert.ok(tookMs <= PING_MS * 3 + 500, `given up after ${tookMs.toFixed(0)} ms`)
  })
})
