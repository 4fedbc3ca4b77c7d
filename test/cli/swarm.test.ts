// Two binaries as child processes on 127.0.0.1 form a swarm with a library node of this
// process (L, fan-out 1) that publishes real RTP. A signalling client of binary 1 consumes
// it, so binary 1 pulls it from L; a client of binary 2 consumes it too, and L, at its
// fan-out, sends binary 2 to binary 1: the stream flows L → B1 → B2. Each binary's
// /status, /metrics and status page (in Chromium) show it; SIGTERM stops both with exit 0.
import assert from 'node:assert/strict'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import { createSwarmNode } from '../../src/index.js'
import { CHROMIUM_ARGS } from '../browser/harness.js'
import { createRtpSource, mediaCodecs, sleep, waitFor } from '../harness/index.js'
import { getJson, getText, killAll, LOCAL, sample, startBinary } from './binary.js'
import type { Binary } from './binary.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'

/** A minimal client of docs/client-signalling.md: requests and their replies. */
class SignallingClient {
  private nextId = 1
  private readonly waiting = new Map<number, (reply: { ok: boolean, data?: any, error?: { name: string } }) => void>() // eslint-disable-line @typescript-eslint/no-explicit-any

  private constructor (private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const reply = JSON.parse(raw.toString())
      this.waiting.get(reply.id)?.(reply)
      this.waiting.delete(reply.id)
    })
  }

  static async connect (url: string): Promise<SignallingClient> {
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    return new SignallingClient(ws)
  }

  async request (method: string, data: unknown = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const id = this.nextId++
    const reply = new Promise<{ ok: boolean, data?: unknown, error?: { name: string } }>((resolve) => this.waiting.set(id, resolve))
    this.ws.send(JSON.stringify({ id, method, data }))
    const r = await reply
    if (!r.ok) throw new Error(`${method}: ${JSON.stringify(r.error)}`)
    return r.data
  }

  /** Consumes a producer on a new receive transport (never connected: the pull is what counts). */
  async consume (producerId: string): Promise<void> {
    const rtpCapabilities = await this.request('getRouterRtpCapabilities')
    const transport = await this.request('createWebRtcTransport', { direction: 'recv' })
    await this.request('consume', { transportId: transport.id, producerId, rtpCapabilities })
  }

  close (): void {
    this.ws.close()
  }
}

interface StatusProducer { producerId: string, origin: string, upstream: string | null, route: string[], downstream: string[] }

describe('two binaries and a library node: L → binary 1 → binary 2', function () {
  this.timeout(60_000)
  const binaries: Binary[] = []
  const clients: SignallingClient[] = []
  let b1: Binary, b2: Binary
  let library: SwarmNode
  let source: RtpSource

  before(async () => {
    b1 = await startBinary([...LOCAL, '--signalling', '--log-level', 'debug'])
    binaries.push(b1)
    // The second binary joins through the address the first one printed.
    b2 = await startBinary([...LOCAL, '--signalling', '--bootstrap', b1.multiaddrs[0]!])
    binaries.push(b2)
    library = await createSwarmNode({ bootstrap: b1.multiaddrs, fanout: 1 })
    await waitFor(() => library.peers.includes(b1.peerId), { timeoutMs: 5000, what: 'the library node joining binary 1' })
    source = await createRtpSource({ router: await library.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 100 })
  })

  after(async () => {
    for (const c of clients) c.close()
    source?.close()
    await library?.stop()
    killAll(binaries)
  })

  it('the binaries find each other: /status of each lists the other as a peer, with an RTT', async () => {
    await waitFor(async () => {
      const [s1, s2] = await Promise.all([getJson(`${b1.httpUrl}status`), getJson(`${b2.httpUrl}status`)])
      const rtt = (s: { peers: Array<{ peerId: string, rttMs: number | null }> }, peerId: string): number | null | undefined => s.peers.find((p) => p.peerId === peerId)?.rttMs
      return typeof rtt(s1, b2.peerId) === 'number' && typeof rtt(s2, b1.peerId) === 'number'
    }, { timeoutMs: 10_000, what: 'both binaries listing each other with an RTT' })
    const s2 = await getJson(`${b2.httpUrl}status`)
    assert.equal(s2.peerId, b2.peerId)
    assert.deepEqual(s2.multiaddrs, b2.multiaddrs)
  })

  it('a client of binary 1 consumes the producer of L: binary 1 pulls it from L', async () => {
    const client = await SignallingClient.connect(b1.signallingUrl!)
    clients.push(client)
    await client.consume(source.producer.id)
    const p = (await getJson(`${b1.httpUrl}status`)).producers.find((x: StatusProducer) => x.producerId === source.producer.id)
    assert.deepEqual({ origin: p.origin, upstream: p.upstream, route: p.route, kind: p.kind, localConsumers: p.localConsumers },
      { origin: library.peerId, upstream: library.peerId, route: [library.peerId, b1.peerId], kind: 'video', localConsumers: 1 })
  })

  it('a client of binary 2 consumes it too: binary 2 pulls it from binary 1, and media flows into binary 2', async () => {
    const client = await SignallingClient.connect(b2.signallingUrl!)
    clients.push(client)
    await client.consume(source.producer.id)
    const p2 = (await getJson(`${b2.httpUrl}status`)).producers.find((x: StatusProducer) => x.producerId === source.producer.id)
    assert.equal(p2.upstream, b1.peerId, 'L (fan-out 1) should have sent binary 2 to binary 1')
    assert.deepEqual(p2.route, [library.peerId, b1.peerId, b2.peerId])
    await waitFor(async () => (await getJson(`${b1.httpUrl}status`)).producers[0]?.downstream.includes(b2.peerId), { what: 'binary 1 listing binary 2 downstream' })

    // Binary 2's pipe transport receives bytes, and keeps receiving them.
    const received = async (): Promise<{ bytes: number, packets: number }> => {
      const text = await getText(`${b2.httpUrl}metrics`)
      return { bytes: sample(text, 'mediasoup_swarm_bytes_received_total{transport="pipe"}'), packets: sample(text, 'mediasoup_swarm_packets_received_total{transport="pipe"}') }
    }
    await waitFor(async () => (await received()).packets > 0, { timeoutMs: 5000, what: 'packets at binary 2' })
    const first = await received()
    await sleep(1000)
    const second = await received()
    assert.ok(second.bytes > first.bytes && second.packets - first.packets >= 50, `pipe traffic did not grow: ${JSON.stringify([first, second])}`)

    const m2 = await getText(`${b2.httpUrl}metrics`)
    for (const [series, value] of [
      ['mediasoup_swarm_producers{type="piped"}', 1],
      ['mediasoup_swarm_pipes{direction="up"}', 1],
      ['mediasoup_swarm_pipe_setup_seconds_count', 1],
      ['mediasoup_swarm_lookup_seconds_count', 1],
      ['mediasoup_swarm_pipe_to_router_seconds_count{result="ok"}', 1],
      ['mediasoup_swarm_consumers{transport="webrtc",kind="video"}', 1],
      ['mediasoup_swarm_signalling_connections', 1]
    ] as const) assert.equal(sample(m2, series), value, `${series} in\n${m2}`)
    assert.ok(sample(m2, 'mediasoup_swarm_pull_redirects_total') >= 1)
    assert.ok(sample(m2, 'mediasoup_swarm_load_points') > 0)
    const m1 = await getText(`${b1.httpUrl}metrics`)
    assert.equal(sample(m1, 'mediasoup_swarm_pipes{direction="down"}'), 1)
    assert.equal(sample(m1, 'mediasoup_swarm_consumers{transport="pipe",kind="video"}'), 1)
    assert.ok(sample(m1, 'mediasoup_swarm_packets_sent_total{transport="pipe"}') > 0)
  })

  it('the status page of binary 1 draws the tree L → binary 1 → binary 2, with short ids and roles', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
      await page.goto(b1.httpUrl)
      await page.waitForSelector('[data-role="producer"] [data-role="edge"]', { state: 'attached', timeout: 5000 })
      const edges = await page.$$eval('[data-role="producer"] [data-role="edge"]', (els) => els.map((e) => `${e.getAttribute('data-from')} > ${e.getAttribute('data-to')}`))
      assert.deepEqual(edges.sort(), [`${library.peerId} > ${b1.peerId}`, `${b1.peerId} > ${b2.peerId}`].sort())
      const boxes = await page.$$eval('[data-role="producer"] [data-role="node"]', (els) => els.map((e) => [e.getAttribute('data-peer'), e.textContent]))
      for (const [peerId, role] of [[library.peerId, 'origin'], [b1.peerId, 'relay (this node)'], [b2.peerId, 'subscriber']]) {
        const box = boxes.find(([id]) => id === peerId)
        assert.ok(box !== undefined, `no box for ${peerId}`)
        // The node's name, its short id, then its role in the tree.
        assert.ok(box[1]!.includes(peerId!.slice(8, 16)) && box[1]!.includes(role!), `box of ${peerId}: ${box[1]}`)
      }
      const peers = await page.$$eval('[data-role="peer-link"]', (els) => els.map((e) => e.getAttribute('data-to')))
      assert.deepEqual(peers.sort(), [library.peerId, b2.peerId].sort())
      assert.deepEqual(errors, [])
    } finally {
      await browser.close()
    }
  })

  it('SIGTERM drains binary 1 (a relay) first: binary 2 moves to L, then binary 1 stops with exit code 0', async () => {
    assert.match(b1.stderr(), new RegExp(`mediasoup-swarm:node:info peer connected ${b2.peerId}`))
    assert.match(b1.stderr(), new RegExp(`mediasoup-swarm:node:pull pulled producer ${source.producer.id} from ${library.peerId}`))
    const stopped = await b1.stop('SIGTERM')
    assert.equal(stopped.code, 0, b1.stderr())
    assert.ok(stopped.ms < 5000, `drain and stop took ${stopped.ms} ms`)
    assert.match(b1.stderr(), /mediasoup-swarm:cli:info SIGTERM: draining \(at most 25 s; another signal stops at once\)\n(.*\n)*.*mediasoup-swarm:cli:info drained in \d+ ms\n(.*\n)*.*mediasoup-swarm:cli:info stopped\n/)
    const p2 = (await getJson(`${b2.httpUrl}status`)).producers.find((x: StatusProducer) => x.producerId === source.producer.id)
    assert.equal(p2.upstream, library.peerId, 'binary 2 should have moved to L')
    assert.deepEqual(library.getDistribution(source.producer.id)?.downstream, [b2.peerId])
  })

  it('SIGTERM stops binary 2 (nothing downstream: no drain to wait for) with exit code 0 within 5 s', async () => {
    for (const c of clients.splice(0)) c.close()
    const stopped = await b2.stop('SIGTERM')
    assert.equal(stopped.code, 0, b2.stderr())
    assert.ok(stopped.ms < 5000, `stop took ${stopped.ms} ms`)
    await waitFor(() => library.getDistribution(source.producer.id)?.downstream.length === 0, { timeoutMs: 5000, what: 'L forgetting binary 2' })
  })
})
