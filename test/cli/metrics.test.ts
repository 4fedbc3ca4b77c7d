// Observability of library nodes in this process (no HTTP): per-node registries, traffic
// counters that only grow, the pipeToRouter hook, errors by source, and the status snapshot.
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProducerNotFoundError } from '../../src/index.js'
import { MediaTracker } from '../../src/observability/media-tracker.js'
import { createNodeMetrics } from '../../src/observability/metrics.js'
import { nodeStatus } from '../../src/observability/status.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { sample } from './binary.js'
import type { NodeMetrics } from '../../src/observability/metrics.js'
import type { SwarmNode } from '../../src/index.js'
import type { types as ms } from 'mediasoup'

describe('node metrics and status (src/observability)', function () {
  this.timeout(30_000)
  let a: SwarmNode, b: SwarmNode
  let routerA: ms.Router, routerB: ms.Router
  let media: MediaTracker
  let metrics: NodeMetrics
  const closers: Array<() => unknown> = []

  beforeEach(async () => {
    [a, b] = await startChain(2) as [SwarmNode, SwarmNode]
    await waitConnected([a, b])
    media = new MediaTracker(b)
    metrics = createNodeMetrics(b, { media, version: '9.9.9' })
    routerA = await a.createRouter({ mediaCodecs })
    routerB = await b.createRouter({ mediaCodecs })
  })

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    metrics.close()
    media.close()
    await stopAll([a, b])
  })

  const scrape = async (): Promise<string> => await metrics.registry.metrics()

  it('each node has its own registry, not prom-client\'s global one', async () => {
    const other = createNodeMetrics(a)
    closers.push(() => other.close())
    assert.notEqual(other.registry, metrics.registry)
    assert.match(await scrape(), new RegExp(`mediasoup_swarm_info\\{peer_id="${b.peerId}",version="9.9.9",protocol_version="[\\d.]+"\\} 1`))
    assert.match(await other.registry.metrics(), new RegExp(`peer_id="${a.peerId}"`))
  })

  it('a pull shows up as a piped producer, an up pipe, lookup and set-up latencies, and growing pipe traffic that never decreases', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    const { pipeProducer } = await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 5000 })

    const text = await scrape()
    assert.equal(sample(text, 'mediasoup_swarm_producers{type="piped"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_pipes{direction="up"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_pipe_streams{direction="up"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_pipe_setup_seconds_count'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_lookup_seconds_count'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_consumers{transport="plain",kind="audio"}'), 1)
    const bytes = (t: string): number => sample(t, 'mediasoup_swarm_bytes_received_total{transport="pipe"}')
    const packets = (t: string): number => sample(t, 'mediasoup_swarm_packets_received_total{transport="pipe"}')
    assert.ok(bytes(text) > 0 && packets(text) > 0, text)

    await sleep(500)
    const later = await scrape()
    assert.ok(packets(later) > packets(text), 'pipe packets did not grow')
    assert.ok(sample(later, 'mediasoup_swarm_packets_sent_total{transport="plain"}') > 0, 'the sink\'s consumer sent nothing')

    // The copy and its pipe close: totals keep what they counted.
    sink.close()
    pipeProducer.close()
    await waitFor(() => b.pipeStats.incomingPipes === 0, { what: 'the pipe closing' })
    const after = await scrape()
    assert.ok(packets(after) >= packets(later) && bytes(after) >= bytes(later), `counters went down: ${packets(later)} → ${packets(after)}`)
    assert.equal(sample(after, 'mediasoup_swarm_pipes{direction="up"}'), 0)
  })

  it('worker CPU time grows while media flows; worker memory and requests received by type are reported', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'video', packetsPerSecond: 200 })
    closers.push(() => source.close())
    await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(20, { timeoutMs: 5000 })
    const cpu = (t: string): number => sample(t, 'mediasoup_swarm_worker_cpu_seconds_total{worker="0",mode="user"}') + sample(t, 'mediasoup_swarm_worker_cpu_seconds_total{worker="0",mode="system"}')
    const first = await scrape()
    assert.ok(cpu(first) > 0, `worker CPU ${cpu(first)}`)
    // Clock ticks may be coarse: wait for the next one while packets flow.
    await waitFor(async () => cpu(await scrape()) > cpu(first), { timeoutMs: 5000, what: 'worker CPU time growing' })
    const second = await scrape()
    const rss = sample(second, 'mediasoup_swarm_worker_max_rss_bytes{worker="0"}')
    assert.ok(rss > 1e6 && rss < 1e10, `worker RSS ${rss}`)
    // B asked A once, over a new pipe: one pull, no connect-pipe (the pipe connects to B's offer).
    const ofA = createNodeMetrics(a)
    closers.push(() => ofA.close())
    const text = await ofA.registry.metrics()
    assert.equal(sample(text, 'mediasoup_swarm_requests_received_total{type="pull"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_requests_received_total{type="connect-pipe"}'), 0)
  })

  it('observePipeToRouter() records calls by result', async () => {
    metrics.observePipeToRouter(0.02)
    metrics.observePipeToRouter(5, new ProducerNotFoundError('p1'))
    const text = await scrape()
    assert.equal(sample(text, 'mediasoup_swarm_pipe_to_router_seconds_count{result="ok"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_pipe_to_router_seconds_count{result="ProducerNotFoundError"}'), 1)
  })

  it('errors by source: invalid messages from other nodes, background errors, signalling replies', async () => {
    const stream = await a.libp2p.dialProtocol(peerIdFromString(b.peerId), pipeProtocolId('/mediasoup-swarm'))
    const lp = lpStream(stream)
    await lp.write(new TextEncoder().encode('{not json'))
    await lp.read()
    b.emit('error', new RangeError('test'))
    metrics.watchSignalling({ connectionCount: 3, errorCounts: { NotFound: 2, BadRequest: 0 }, refusedConnections: 1 })
    const text = await scrape()
    assert.equal(sample(text, 'mediasoup_swarm_errors_total{source="protocol",kind="bad-message"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_errors_total{source="node",kind="RangeError"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_errors_total{source="signalling",kind="NotFound"}'), 2)
    assert.doesNotMatch(text, /kind="BadRequest"/)
    assert.equal(sample(text, 'mediasoup_swarm_signalling_connections'), 3)
    assert.equal(sample(text, 'mediasoup_swarm_signalling_refused_total'), 1)
  })

  it('status: peers with RTT, load, and per producer its distribution, kind and local consumers', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'video' })
    closers.push(() => source.close())
    await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sink.close())
    await waitFor(() => Object.keys(b.rtts()).length > 0, { what: 'an RTT measured' })
    const status = nodeStatus(b, { media, version: '9.9.9', startedAt: performance.now() })
    assert.equal(status.peerId, b.peerId)
    assert.deepEqual(status.peers.map((p) => p.peerId), [a.peerId])
    assert.equal(typeof status.peers[0]!.rttMs, 'number')
    assert.ok(status.load > 0 && status.capacity === 2000 && status.spare === status.capacity - status.load)
    assert.equal(status.producers.length, 1)
    const p = status.producers[0]!
    assert.deepEqual({ origin: p.origin, upstream: p.upstream, route: p.route, kind: p.kind, paused: p.paused, localConsumers: p.localConsumers },
      { origin: a.peerId, upstream: a.peerId, route: [a.peerId, b.peerId], kind: 'video', paused: false, localConsumers: 1 })
    assert.doesNotThrow(() => JSON.stringify(status))
  })
})
