// The binary serves the media-quality figures: a library node of this process (L) publishes
// real RTP; a signalling client of the binary consumes it, so the binary pulls it from L
// through a pipe; the binary's /metrics and /status (over HTTP) show the pipe's figures
// with direction and peer, sampled every --media-sample-period.
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { createSwarmNode } from '../../src/index.js'
import { MediaTracker } from '../../src/observability/media-tracker.js'
import { createRtpSource, mediaCodecs, waitFor } from '../harness/index.js'
import { getJson, getText, killAll, LOCAL, sample, startBinary } from '../cli/binary.js'
import type { Binary } from '../cli/binary.js'
import type { PipeQuality } from '../../src/observability/media-sampler.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'

/** One request of docs/client-signalling.md on an open socket, answered in order. */
async function request (ws: WebSocket, id: number, method: string, data: unknown = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const reply = new Promise<{ ok: boolean, data?: unknown, error?: unknown }>((resolve) => {
    const onMessage = (raw: WebSocket.RawData): void => {
      const r = JSON.parse(raw.toString())
      if (r.id !== id) return
      ws.off('message', onMessage)
      resolve(r)
    }
    ws.on('message', onMessage)
  })
  ws.send(JSON.stringify({ id, method, data }))
  const r = await reply
  if (!r.ok) throw new Error(`${method}: ${JSON.stringify(r.error)}`)
  return r.data
}

describe('the binary\'s /metrics and /status show media quality per pipe', function () {
  this.timeout(60_000)
  const binaries: Binary[] = []
  let binary: Binary
  let library: SwarmNode
  let libraryMedia: MediaTracker
  let source: RtpSource
  let ws: WebSocket | undefined

  before(async () => {
    binary = await startBinary([...LOCAL, '--signalling', '--media-sample-period', '0.5'])
    binaries.push(binary)
    library = await createSwarmNode({ bootstrap: binary.multiaddrs })
    libraryMedia = new MediaTracker(library, { samplePeriodMs: 500 })
    await waitFor(() => library.peers.includes(binary.peerId), { timeoutMs: 10_000, what: 'the library node joining the binary' })
    source = await createRtpSource({ router: await library.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 100 })
  })

  after(async () => {
    ws?.close()
    source?.close()
    libraryMedia?.close()
    await library?.stop()
    killAll(binaries)
  })

  it('a consume pulls the producer into the binary: its pipe shows packets and bitrate from L (in), and L\'s to the binary (out)', async () => {
    // A fresh binary: the per-kind counters are there at 0 already.
    assert.match(await getText(`${binary.httpUrl}metrics`), /^mediasoup_swarm_rtp_packets_total\{role="producer",transport="pipe",kind="video"\} 0$/m)
    ws = new WebSocket(binary.signallingUrl!)
    await new Promise((resolve, reject) => { ws!.once('open', resolve); ws!.once('error', reject) })
    const rtpCapabilities = await request(ws, 1, 'getRouterRtpCapabilities')
    const transport = await request(ws, 2, 'createWebRtcTransport', { direction: 'recv' })
    await request(ws, 3, 'consume', { transportId: transport.id, producerId: source.producer.id, rtpCapabilities })

    const labels = `{direction="in",peer="${library.peerId}"}`
    await waitFor(async () => {
      const text = await getText(`${binary.httpUrl}metrics`)
      return sample(text, `mediasoup_swarm_pipe_packets_total${labels}`) >= 100 && sample(text, `mediasoup_swarm_pipe_bitrate_bps${labels}`) > 100_000
    }, { timeoutMs: 15_000, intervalMs: 250, what: 'packets and bitrate of the binary\'s incoming pipe in /metrics' })
    const text = await getText(`${binary.httpUrl}metrics`)
    assert.equal(sample(text, 'mediasoup_swarm_webrtc_transports'), 1)
    assert.ok(sample(text, 'mediasoup_swarm_rtp_packets_total{role="producer",transport="pipe",kind="video"}') >= 100)

    const status = await getJson<{ media: { sampledAt: number | null, pipes: PipeQuality[] } }>(`${binary.httpUrl}status`)
    assert.equal(typeof status.media.sampledAt, 'number')
    assert.ok(Math.abs(Date.now() - status.media.sampledAt!) < 10_000, `sampledAt ${status.media.sampledAt}`)
    const pipe = status.media.pipes.find((p) => p.producerId === source.producer.id && p.direction === 'in')
    assert.ok(pipe !== undefined, JSON.stringify(status.media))
    assert.equal(pipe.peerId, library.peerId)
    assert.equal(pipe.kind, 'video')
    assert.ok(pipe.bitrateBps > 100_000, `bitrate ${pipe.bitrateBps}`)

    // L's own sampler sees the same stream leaving towards the binary.
    await waitFor(() => (libraryMedia.quality?.pipes ?? []).some((p) => p.direction === 'out' && p.peerId === binary.peerId && p.bitrateBps > 100_000),
      { timeoutMs: 10_000, what: 'L\'s outgoing pipe to the binary sampled with its bitrate' })
  })
})
