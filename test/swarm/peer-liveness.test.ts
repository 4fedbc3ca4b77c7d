import assert from 'node:assert/strict'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { answerPings } from '../harness/yamux-pings.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'
import type { types as ms } from 'mediasoup'

const PING_MS = 300
const MEDIA_SILENCE_MS = 400

describe('peer liveness (ping every timeouts.ping)', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  const closers: Array<() => unknown> = []

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
    nodes = []
  })

  /** Nodes A and B pinging every PING_MS (or as `timeouts` says); A pulls an audio producer of B into a router. */
  async function aPullsFromB (timeouts = { ping: PING_MS, mediaSilence: MEDIA_SILENCE_MS }): Promise<{ a: SwarmNode, b: SwarmNode, router: ms.Router, pipeProducer: ms.Producer, source: RtpSource }> {
    nodes = await startChain(2, { timeouts })
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

  it('a ping answered after its period does not drop a peer: its connection and the media on it go on', async () => {
    const { a, b, router, pipeProducer } = await aPullsFromB()
    const sink = await createRtpSink({ router, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(1, { timeoutMs: 5000 })
    const connection = a.libp2p.getConnections(b.libp2p.peerId)[0]!

    const pings = answerPings(b, a, (n) => n === 0 ? PING_MS * 1.5 : 0)
    await sleep(PING_MS * 6)
    // A's pings reached the patched Yamux: the first was answered late, a later one at once.
    await waitFor(() => pings.answered.length > 0, { what: 'a ping answered after the late one', progress: () => `late [${pings.late.join(', ')}], answered [${pings.answered.join(', ')}], connection ${connection.status}` })
    assert.deepEqual(pings.late, [0])
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

    const pings = answerPings(b, a, () => undefined)
    await sleep(PING_MS * 6)
    assert.equal(a.peers.includes(b.peerId), true)
    assert.equal(pipeProducer.closed, false)
    const before = sink.packets
    await sleep(300)
    assert.ok(sink.packets > before, 'media still flows')
    // Kept although its pings really went unanswered (a ping sent while one is unanswered
    // waits for the same answer: one frame for six periods).
    assert.ok(pings.unanswered.length >= 1, `unanswered pings: ${pings.unanswered.length}`)
  })

  it('a peer that answers no ping and sends no media is given up within mediaSilence + livenessPing, and the copies pulled from it close', async () => {
    const { a, b, pipeProducer, source } = await aPullsFromB()

    const pings = answerPings(b, a, () => undefined)
    source.stop()
    const frozenAt = performance.now()
    await waitFor(() => pipeProducer.closed, { what: 'the copy closed', timeoutMs: MEDIA_SILENCE_MS + 500 + 3000 })
    const tookMs = performance.now() - frozenAt
    // One check period (a quarter of the silence), the ping's deadline, and room for a busy machine.
    assert.ok(tookMs <= MEDIA_SILENCE_MS * 1.25 + 500 + 600, `given up after ${tookMs.toFixed(0)} ms`)
    assert.equal(a.getDistribution(pipeProducer.id), undefined)
    assert.equal(a.peers.includes(b.peerId), false)
    assert.ok(pings.unanswered.length >= 1, 'the silence ping reached B and went unanswered')
  })

  it('an upstream that answers while its source stays quiet is pinged after twice as long each time, and at once again after its media resumes', async () => {
    const { a, b, router, pipeProducer, source } = await aPullsFromB({ ping: 60_000, mediaSilence: 200 })
    const sink = await createRtpSink({ router, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(5, { timeoutMs: 5000 })

    const pings = answerPings(b, a, () => 0)
    source.stop()
    // Silence pings 0.2, 0.6, 1.4, 3.0 s after the last packet (+ a check period each): at
    // one per silence period it would be ≈ 15.
    await sleep(3200)
    const quiet = pings.answered.length
    assert.ok(quiet >= 2 && quiet <= 6, `ping frames in 3.2 s of quiet: ${quiet}`)
    assert.equal(pipeProducer.closed, false)
    assert.ok(a.peers.includes(b.peerId))

    // Media again, then quiet again: the first silence ping comes after one silence period.
    source.start()
    await sink.waitForPackets(sink.packets + 5, { timeoutMs: 5000 })
    const before = pings.answered.length
    source.stop()
    await waitFor(() => pings.answered.length > before, { what: 'a silence ping after the media stopped again', timeoutMs: 200 * 1.25 + 1000 })
  })

  it('a pipe that never carried RTP (its SCTP association only) sets off no silence pings', async () => {
    nodes = await startChain(2, { timeouts: { ping: 60_000, mediaSilence: 200 } })
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    await waitFor(() => a.rtts()[b.peerId] !== undefined, { what: 'the first ping answered' })
    const source = await createRtpSource({ router: await b.createRouter({ mediaCodecs }), kind: 'audio', autoStart: false })
    closers.push(() => source.close())
    const router = await a.createRouter({ mediaCodecs })
    const transports: ms.Transport[] = []
    router.observer.on('newtransport', (transport) => transports.push(transport))
    const pings = answerPings(b, a, () => 0)
    const { pipeProducer } = await a.pipeToRouter({ producerId: source.producer.id, router })
    await sleep(2000)
    // The pipe did carry bytes (the SCTP association), so only the RTP rule kept it quiet.
    const stats = (await Promise.all(transports.filter((t) => !t.closed).map(async (t) => (await t.getStats())[0]!)))
      .filter((st) => st.bytesReceived > 0)
    assert.equal(stats.length, 1, 'one pipe transport with bytes received')
    assert.equal(stats[0]!.rtpBytesReceived, 0)
    assert.deepEqual(pings.answered, [])
    assert.equal(pipeProducer.closed, false)
  })

  it('an idle peer (no media from it) that answers no ping is given up within 3 × timeouts.ping', async () => {
    nodes = await startChain(2, { timeouts: { ping: PING_MS } })
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    const pings = answerPings(b, a, () => undefined)
    const frozenAt = performance.now()
    await waitFor(() => !a.peers.includes(b.peerId), {
      what: 'B given up',
      timeoutMs: PING_MS * 3 + 2000,
      progress: () => `pings unanswered ${pings.unanswered.length}, answered ${pings.answered.length}; B's connections patched ${pings.connections}, A's open ${a.libp2p.getConnections(b.libp2p.peerId).length}`
    })
    const tookMs = performance.now() - frozenAt
    // Given up for a ping it left unanswered (two failed waits for it), not for something else.
    assert.ok(pings.unanswered.length >= 1, `unanswered pings: ${pings.unanswered.length}`)
    assert.ok(tookMs <= PING_MS * 3 + 500, `given up after ${tookMs.toFixed(0)} ms`)
  })
})
