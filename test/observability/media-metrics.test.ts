// Media quality of real nodes: real mediasoup workers, real libp2p, real RTP through real
// pipes; figures read from the registry (/metrics) and the status snapshot (/status).
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import zlib from 'node:zlib'
import { MediaTracker } from '../../src/observability/media-tracker.js'
import { createNodeMetrics } from '../../src/observability/metrics.js'
import { nodeStatus } from '../../src/observability/status.js'
import { createRtpSink, createRtpSource, OPUS_PAYLOAD_TYPE, waitFor, writeRtpPacket } from '../harness/index.js'
import { openLoopbackEnd } from '../harness/loopback.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { sample } from '../cli/binary.js'
import type { NodeMetrics } from '../../src/observability/metrics.js'
import type { PipeQuality } from '../../src/observability/media-sampler.js'
import type { SwarmNode } from '../../src/index.js'
import type { types as ms } from 'mediasoup'

/** A STUN binding request as an ICE controlling agent sends it (RFC 8445: USERNAME, PRIORITY, USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT). */
function stunBindingRequest (username: string, password: string): Buffer {
  const attribute = (type: number, value: Buffer): Buffer => {
    const b = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4)
    b.writeUInt16BE(type, 0)
    b.writeUInt16BE(value.length, 2)
    value.copy(b, 4)
    return b
  }
  const header = Buffer.alloc(20)
  header.writeUInt16BE(0x0001, 0)
  header.writeUInt32BE(0x2112a442, 4)
  randomBytes(12).copy(header, 8)
  const priority = Buffer.alloc(4)
  priority.writeUInt32BE(0x6e7f1eff)
  let body = Buffer.concat([attribute(0x0006, Buffer.from(username)), attribute(0x0024, priority), attribute(0x802a, randomBytes(8)), attribute(0x0025, Buffer.alloc(0))])
  // Each check covers the message up to itself, with a length that counts itself.
  header.writeUInt16BE(body.length + 24, 2)
  body = Buffer.concat([body, attribute(0x0008, createHmac('sha1', password).update(Buffer.concat([header, body])).digest())])
  header.writeUInt16BE(body.length + 8, 2)
  const fingerprint = Buffer.alloc(4)
  fingerprint.writeUInt32BE((zlib.crc32(Buffer.concat([header, body])) ^ 0x5354554e) >>> 0)
  return Buffer.concat([header, body, attribute(0x8028, fingerprint)])
}

/** RFC 4571 framing of ICE-TCP. */
function framed (packet: Buffer): Buffer {
  const length = Buffer.alloc(2)
  length.writeUInt16BE(packet.length)
  return Buffer.concat([length, packet])
}

/** The value of a series, or undefined when the registry does not have it (`sample` reads 0 then). */
function series (text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe('media-quality metrics and status of real nodes (src/observability)', function () {
  this.timeout(60_000)
  let a: SwarmNode, b: SwarmNode
  let routerA: ms.Router, routerB: ms.Router
  let mediaA: MediaTracker, mediaB: MediaTracker
  let metricsA: NodeMetrics, metricsB: NodeMetrics
  const closers: Array<() => unknown> = []

  beforeEach(async () => {
    [a, b] = await startChain(2) as [SwarmNode, SwarmNode]
    await waitConnected([a, b])
    // A long period: the tests run rounds themselves (sampleQuality()), as the timer would.
    mediaA = new MediaTracker(a, { samplePeriodMs: 60_000 })
    mediaB = new MediaTracker(b, { samplePeriodMs: 60_000 })
    metricsA = createNodeMetrics(a, { media: mediaA })
    metricsB = createNodeMetrics(b, { media: mediaB })
    routerA = await a.createRouter({ mediaCodecs })
    routerB = await b.createRouter({ mediaCodecs })
  })

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    for (const m of [metricsA, metricsB]) m.close()
    for (const m of [mediaA, mediaB]) m.close()
    await stopAll([a, b])
  })

  it('a fresh node has every counter at 0 before any event (only per-peer pipe series wait for a pipe)', async () => {
    const text = await metricsB.registry.metrics()
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]!)
    assert.ok(counters.length > 20, `only ${counters.length} counters`)
    const missing = counters.filter((name) => !name.startsWith('mediasoup_swarm_pipe_') && !new RegExp(`^${name}(\\{[^}]*\\})? `, 'm').test(text))
    assert.deepEqual(missing, [])
    for (const name of [
      'mediasoup_swarm_rtp_packets_total{role="producer",transport="pipe",kind="video"}',
      'mediasoup_swarm_rtp_packets_lost_total{role="consumer",transport="webrtc",kind="audio"}',
      'mediasoup_swarm_rtp_nacks_total{role="producer",transport="webrtc",kind="video"}',
      'mediasoup_swarm_webrtc_failures_total{stage="ice"}',
      'mediasoup_swarm_webrtc_failures_total{stage="dtls"}',
      'mediasoup_swarm_webrtc_transports',
      'mediasoup_swarm_requests_received_total{type="pull"}',
      'mediasoup_swarm_errors_total{source="protocol",kind="bad-message"}',
      'mediasoup_swarm_pipe_to_router_seconds_count{result="ok"}'
    ]) assert.equal(series(text, name), 0, name)
    const status = nodeStatus(b, { media: mediaB })
    assert.deepEqual(status.media.pipes, [])
  })

  it('media through a pipe shows packets, bytes and bitrate with direction and peer on both ends, in /metrics and /status', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'video', packetsPerSecond: 100 })
    closers.push(() => source.close())
    const { pipeProducer } = await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: source.producer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(100, { timeoutMs: 10_000 })
    await Promise.all([mediaA.sampleQuality(), mediaB.sampleQuality()])
    await waitFor(() => sink.packets >= 200, { timeoutMs: 10_000, what: '200 packets at the sink' })
    const [qa, qb] = await Promise.all([mediaA.sampleQuality(), mediaB.sampleQuality()])
    assert.ok(qa.complete && qb.complete)

    const textA = await metricsA.registry.metrics()
    const textB = await metricsB.registry.metrics()
    const inB = `{direction="in",peer="${a.peerId}"}`
    const outA = `{direction="out",peer="${b.peerId}"}`
    for (const [text, labels] of [[textB, inB], [textA, outA]] as const) {
      assert.ok(sample(text, `mediasoup_swarm_pipe_packets_total${labels}`) >= 100, `packets ${labels}`)
      assert.ok(sample(text, `mediasoup_swarm_pipe_bytes_total${labels}`) > 100 * 300, `bytes ${labels}`)
      // 100 packets/s of >= 300 bytes: about 300 kbit/s.
      const bitrate = sample(text, `mediasoup_swarm_pipe_bitrate_bps${labels}`)
      assert.ok(bitrate > 100_000 && bitrate < 2_000_000, `bitrate ${bitrate} ${labels}`)
      assert.ok(sample(text, `mediasoup_swarm_pipe_score${labels}`) > 0, `score ${labels}`)
      assert.equal(series(text, `mediasoup_swarm_pipe_packet_loss_ratio${labels}`), 0)
    }
    assert.ok(sample(textB, `mediasoup_swarm_pipe_jitter_seconds${inB}`) >= 0)
    assert.ok(sample(textB, 'mediasoup_swarm_rtp_packets_total{role="producer",transport="pipe",kind="video"}') >= 100)
    assert.ok(sample(textB, 'mediasoup_swarm_rtp_packets_total{role="consumer",transport="plain",kind="video"}') >= 100)
    assert.ok(sample(textA, 'mediasoup_swarm_rtp_packets_total{role="consumer",transport="pipe",kind="video"}') >= 100)
    assert.ok(sample(textA, 'mediasoup_swarm_rtp_packets_total{role="producer",transport="plain",kind="video"}') >= 100)
    assert.ok(sample(textA, 'mediasoup_swarm_media_sample_duration_seconds') > 0)

    const statusB = nodeStatus(b, { media: mediaB })
    const statusA = nodeStatus(a, { media: mediaA })
    assert.equal(statusB.media.sampledAt, qb.sampledAt)
    assert.equal(statusB.media.pipes.length, 1)
    assert.equal(statusA.media.pipes.length, 1)
    const inbound = statusB.media.pipes[0]!
    const outbound = statusA.media.pipes[0]!
    assert.deepEqual([inbound.producerId, inbound.peerId, inbound.direction, inbound.kind], [source.producer.id, a.peerId, 'in', 'video'])
    assert.deepEqual([outbound.producerId, outbound.peerId, outbound.direction, outbound.kind], [source.producer.id, b.peerId, 'out', 'video'])
    for (const p of [inbound, outbound]) {
      assert.ok(p.bitrateBps > 100_000 && Number.isInteger(p.bitrateBps), `bitrate ${p.bitrateBps}`)
      assert.equal(p.packetLossFraction, 0)
      assert.equal(typeof p.score, 'number')
    }
    assert.equal(typeof inbound.jitterMs, 'number')
    assert.doesNotThrow(() => JSON.stringify(statusB))

    // B's receiver reports reach A's pipe consumer: the sending end knows the pipe's RTT
    // (below 0.05 ms on loopback: 0 once rounded).
    await waitFor(async () => (await mediaA.sampleQuality()).pipes[0]?.rttMs !== null, { timeoutMs: 15_000, intervalMs: 500, what: 'an RTT on A\'s outgoing pipe' })
    const rtt = nodeStatus(a, { media: mediaA }).media.pipes[0]!.rttMs!
    assert.ok(rtt >= 0 && rtt < 1000 && Math.round(rtt * 10) === rtt * 10, `rtt ${rtt}`)
    assert.ok(sample(await metricsA.registry.metrics(), `mediasoup_swarm_pipe_rtt_seconds${outA}`) > 0)

    // The copy closes: B's counters of A keep what was counted until the peer has no pipe stream left, then leave.
    sink.close()
    pipeProducer.close()
    await waitFor(() => b.pipeStats.incomingProducers === 0, { what: 'the copy closing' })
    await mediaB.sampleQuality()
    const after = await metricsB.registry.metrics()
    assert.equal(series(after, `mediasoup_swarm_pipe_packets_total${inB}`), undefined)
    assert.ok(sample(after, 'mediasoup_swarm_rtp_packets_total{role="producer",transport="pipe",kind="video"}') >= sample(textB, 'mediasoup_swarm_rtp_packets_total{role="producer",transport="pipe",kind="video"}'), 'kind totals went down')
    assert.deepEqual(nodeStatus(b, { media: mediaB }).media.pipes, [])
  })

  it('RTP with gaps in its sequence numbers shows as loss on the receiving end of the pipe, and on the sending end from its reports', async () => {
    // A sender of our own: every 10th sequence number is never sent.
    const { socket, transport } = await openLoopbackEnd(routerA, true)
    closers.push(() => { transport.close(); socket.close() })
    const ssrc = 0x1234567
    const producer = await transport.produce({
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] }
    })
    let index = 0
    const send = setInterval(() => {
      if (++index % 10 === 0 || index > 3000) return
      const payload = Buffer.alloc(80, 0xa5)
      payload[0] = 0x78
      socket.send(writeRtpPacket({ marker: index === 1, payloadType: OPUS_PAYLOAD_TYPE, sequenceNumber: index, timestamp: index * 960, ssrc }, payload), transport.tuple.localPort, '127.0.0.1')
    }, 10)
    closers.push(() => clearInterval(send))
    await b.pipeToRouter({ producerId: producer.id, router: routerB })
    const sink = await createRtpSink({ router: routerB, producerId: producer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(100, { timeoutMs: 10_000 })
    assert.ok(sink.stats().lost > 0, 'the sink saw no gap')
    // mediasoup works losses out at each RTCP receiver report (every 1 to 5 s).
    let inbound: PipeQuality | undefined
    await waitFor(async () => {
      inbound = (await mediaB.sampleQuality()).pipes[0]
      return inbound !== undefined && inbound.packetLossFraction > 0 && sample(await metricsB.registry.metrics(), `mediasoup_swarm_pipe_packets_lost_total{direction="in",peer="${a.peerId}"}`) >= 10
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'losses on B\'s incoming pipe' })
    assert.equal(inbound!.direction, 'in')
    // One in ten: 10 %, give or take the packets in flight at each end of the report interval.
    assert.ok(inbound!.packetLossFraction > 0.05 && inbound!.packetLossFraction < 0.2, `loss ${inbound!.packetLossFraction}`)
    const textB = await metricsB.registry.metrics()
    assert.ok(sample(textB, `mediasoup_swarm_pipe_packet_loss_ratio{direction="in",peer="${a.peerId}"}`) > 0.05)
    assert.ok(sample(textB, 'mediasoup_swarm_rtp_packets_lost_total{role="producer",transport="pipe",kind="audio"}') >= 10)
    // A's producer (the plain transport) sees the gaps too; its pipe consumer learns of them from B's receiver reports.
    await waitFor(async () => {
      await mediaA.sampleQuality()
      const text = await metricsA.registry.metrics()
      return sample(text, `mediasoup_swarm_pipe_packets_lost_total{direction="out",peer="${b.peerId}"}`) > 0 &&
        sample(text, `mediasoup_swarm_pipe_packet_loss_ratio{direction="out",peer="${b.peerId}"}`) > 0.05 &&
        sample(text, 'mediasoup_swarm_rtp_packets_lost_total{role="producer",transport="plain",kind="audio"}') >= 10
    }, { timeoutMs: 20_000, intervalMs: 500, what: 'losses reported to A\'s pipe consumer, and seen by A\'s producer' })
  })

  it('WebRTC transports are counted; a DTLS handshake that fails and an ICE path that goes away count by stage', async () => {
    const transport = await routerB.createWebRtcTransport({ listenInfos: [{ protocol: 'tcp', ip: '127.0.0.1' }] })
    closers.push(() => transport.close())
    assert.equal(sample(await metricsB.registry.metrics(), 'mediasoup_swarm_webrtc_transports'), 1)
    // A client of our own over ICE-TCP: a valid binding request (ICE completes), then a
    // fatal DTLS alert instead of a ClientHello, then the connection closes.
    await transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] } })
    const socket = net.connect(transport.iceCandidates[0]!.port, '127.0.0.1')
    closers.push(() => socket.destroy())
    await once(socket, 'connect')
    socket.write(framed(stunBindingRequest(`${transport.iceParameters.usernameFragment}:client`, transport.iceParameters.password)))
    await waitFor(() => transport.iceState === 'completed', { what: 'ICE completed' })
    socket.write(framed(Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40])))
    await waitFor(() => transport.dtlsState === 'failed', { what: 'DTLS failed' })
    let text = await metricsB.registry.metrics()
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_failures_total{stage="dtls"}'), 1)
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_failures_total{stage="ice"}'), 0)
    socket.destroy()
    await waitFor(() => transport.iceState === 'disconnected', { what: 'ICE disconnected' })
    text = await metricsB.registry.metrics()
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_failures_total{stage="ice"}'), 1)
    transport.close()
    text = await metricsB.registry.metrics()
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_transports'), 0)
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_failures_total{stage="dtls"}'), 1)
  })

  it('peer RTT: a gauge per connected peer, and tenths of a ms in /status', async () => {
    await waitFor(() => b.rtts()[a.peerId] !== undefined, { timeoutMs: 10_000, what: 'an RTT to A' })
    const rtt = sample(await metricsB.registry.metrics(), `mediasoup_swarm_peer_rtt_seconds{peer="${a.peerId}"}`)
    assert.ok(rtt > 0 && rtt < 1, `rtt ${rtt} s`)
    const peer = nodeStatus(b, { media: mediaB }).peers.find((p) => p.peerId === a.peerId)!
    assert.equal(typeof peer.rttMs, 'number')
    assert.equal(Math.round(peer.rttMs! * 10) / 10, peer.rttMs)
  })
})
