// Real Chromium viewers kept watching while the swarm heals under them, through the shipped
// helper (mediasoup-swarm/client) the test page uses:
// - three node binaries, each an OS process in its own process group: a publisher page on A
//   (fan-out 1), a viewer page on C whose copy comes through the relay B; B's whole group is
//   SIGKILLed. C restores its copy from A, its signalling re-creates the viewer's consumers
//   (consumerRestored) and the helper swaps the new tracks into the same MediaStreams.
// - three in-process node services: the viewer's node C drains (nodeDraining); the helper
//   moves to B, consuming there before it leaves C; then B stops under a viewer, which
//   loses its connection and moves to A.
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitFor } from '../harness/index.js'
import { waitConnected } from '../harness/swarm.js'
import { getJson, killAll, LOCAL, startBinary } from '../cli/binary.js'
import { BrowserHarness } from './harness.js'
import type { Binary } from '../cli/binary.js'
import type { ClientEventRecord, FrameSample, PublisherPage, ViewerPage } from './harness.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { NodeStatus } from '../../src/observability/index.js'

/** The budget from the kill to frames decoded again by the viewer (the figure). */
const RESUME_BUDGET_MS = 2000
/** How often the page samples framesDecoded: the resolution of the measured times. */
const SAMPLE_MS = 25

/**
 * The first sample after `since` of a consumer not in `before` that has decoded frames:
 * when the viewer decoded again on a new consumer.
 */
function firstNewFrames (samples: FrameSample[], producerId: string, since: number, before: Set<string>): FrameSample | undefined {
  return samples.find((s) => s.producerId === producerId && s.at > since && !before.has(s.consumerId) && s.framesDecoded > 0)
}

/** framesDecoded of `consumerId` in the last sample, or 0. */
function framesOf (samples: FrameSample[], consumerId: string): number {
  return samples.findLast((s) => s.consumerId === consumerId)?.framesDecoded ?? 0
}

/** Consumers on `url` over a receive transport never connected: the node pulls the producers, which is all that is wanted. */
async function pullInto (url: string, producerIds: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('close', reject) })
  let nextId = 1
  const request = async (method: string, data: object = {}): Promise<Record<string, unknown>> => {
    const id = nextId++
    const reply = new Promise<{ ok: boolean, data: Record<string, unknown>, error?: unknown }>((resolve) => {
      const onMessage = (raw: WebSocket.RawData): void => {
        const message = JSON.parse(raw.toString())
        if (message.id !== id) return
        ws.off('message', onMessage)
        resolve(message)
      }
      ws.on('message', onMessage)
    })
    ws.send(JSON.stringify({ id, method, data }))
    const r = await reply
    if (!r.ok) throw new Error(`${method}: ${JSON.stringify(r.error)}`)
    return r.data
  }
  const rtpCapabilities = await request('getRouterRtpCapabilities')
  const transport = await request('createWebRtcTransport', { direction: 'recv' })
  for (const producerId of producerIds) await request('consume', { transportId: transport.id, producerId, rtpCapabilities })
  return ws
}

function eventsAfter (events: ClientEventRecord[], since: number): string[] {
  return events.filter((e) => e.at > since).map((e) => e.type)
}

describe('browser viewer through a relay whose process group is killed (three binaries, the helper restores the consumers)', function () {
  this.timeout(90_000)
  const binaries: Binary[] = []
  let harness: BrowserHarness
  let a: Binary, b: Binary, c: Binary
  let puller: WebSocket | undefined

  before(async () => {
    a = await startBinary([...LOCAL, '--signalling', '--fanout', '1'])
    binaries.push(a)
    const [bStarted, cStarted] = await Promise.all([0, 1].map(async () => await startBinary([...LOCAL, '--signalling', '--bootstrap', a.multiaddrs[0]!])))
    b = bStarted!
    c = cStarted!
    binaries.push(b, c)
    await waitFor(async () => (await getJson<NodeStatus>(`${a.httpUrl}status`)).peers.length >= 2, { timeoutMs: 10_000, what: 'B and C connected to A' })
    harness = await BrowserHarness.start()
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
      for (const bin of binaries) console.log(`--- ${bin.peerId} stderr:\n${bin.stderr().slice(-3000)}`)
    }
  })

  after(async () => {
    puller?.close()
    await harness?.close()
    await Promise.all(binaries.filter((bin) => bin.child.exitCode === null).map(async (bin) => await bin.stop()))
    killAll(binaries)
  })

  it(`SIGKILL of B: the viewer on C decodes video again within ${RESUME_BUDGET_MS} ms, in the same MediaStream, without reconnecting`, async () => {
    const publisher: PublisherPage = await harness.openPublisher(a.signallingUrl!)
    const videoId = publisher.published.video!
    const audioId = publisher.published.audio!
    // B takes A's one downstream slot, so C's copies have to come through B.
    puller = await pullInto(b.signallingUrl!, [videoId, audioId])
    const viewer: ViewerPage = await harness.openViewer([c.signallingUrl!, a.signallingUrl!], [videoId, audioId])
    await harness.waitForMediaFlowing(viewer)
    const status = await getJson<NodeStatus>(`${c.httpUrl}status`)
    assert.equal(status.producers.find((p) => p.producerId === videoId)?.upstream, b.peerId, 'C must receive the video through B')

    await viewer.startSampling(SAMPLE_MS)
    await waitFor(async () => (await viewer.samples()).length > 0, { timeoutMs: 2000, what: 'frame samples' })
    const before = new Set((await viewer.stats()).map((s) => s.consumerId))
    const killedAt = Date.now()
    b.signalGroup('SIGKILL')

    // Up to 10 s, so a slow restore is measured rather than only found late.
    let resumed: FrameSample | undefined
    await waitFor(async () => (resumed = firstNewFrames(await viewer.samples(), videoId, killedAt, before)) !== undefined, {
      timeoutMs: 10_000, intervalMs: 50, what: 'video frames decoded on a restored consumer', progress: () => JSON.stringify(resumed)
    }).catch(() => {})
    assert.ok(resumed !== undefined, 'the viewer never decoded video again after the kill')
    const resumeMs = resumed.at - killedAt
    // Media keeps coming on the new consumer.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const samples = await viewer.samples()
    const grown = framesOf(samples, resumed.consumerId) - resumed.framesDecoded
    const [element] = (await viewer.elements(resumed.at)).filter((e) => e.producerId === videoId)
    const events = await viewer.clientEvents()
    const restoredAt = events.find((e) => e.type === 'restored' && e.at > killedAt && e.detail.producerId === videoId)?.at
    console.log(`      kill → restored event ${restoredAt === undefined ? '-' : restoredAt - killedAt} ms, → frames decoded again ${resumeMs} ms ` +
      `(sampled every ${SAMPLE_MS} ms); +${grown} frames in the next second; element freeze ${(await viewer.elements(killedAt))[0]?.longestPaintGapMs} ms`)

    assert.ok(resumeMs <= RESUME_BUDGET_MS, `frames decoded again ${resumeMs} ms after the kill`)
    assert.ok(grown >= 5, `only ${grown} frames decoded in the second after the resumption`)
    assert.ok(element !== undefined)
    assert.equal(element.sameStream, true, 'the video element must keep its MediaStream')
    assert.equal(element.tracks, 1)
    assert.equal(element.currentTrack, true, 'the MediaStream holds the restored consumer\'s track')
    assert.ok(element.paintedSince >= 5, `the element painted ${element.paintedSince} frames since the resumption`)
    assert.deepEqual(eventsAfter(events, killedAt).sort(), ['restored', 'restored'], 'audio and video restored, no reconnection')
    const audio = (await viewer.stats()).find((s) => s.producerId === audioId)
    assert.ok(audio !== undefined && !before.has(audio.consumerId) && audio.packetsReceived > 0, `audio on a restored consumer: ${JSON.stringify(audio)}`)
    const after = await getJson<NodeStatus>(`${c.httpUrl}status`)
    assert.equal(after.producers.find((p) => p.producerId === videoId)?.upstream, a.peerId, 'C restored its copy from A')
  })
})

describe('browser viewer on a draining or stopping node (in-process node services, the helper moves to another node)', function () {
  this.timeout(60_000)
  const sites: NodeService[] = []
  let harness: BrowserHarness

  before(async () => {
    for (let i = 0; i < 3; i++) {
      sites.push(await startNodeService({
        node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : sites[0]!.node.multiaddrs },
        http: { host: '127.0.0.1', port: 0 },
        signalling: { listenIp: '127.0.0.1', port: 0 }
      }))
    }
    await waitConnected(sites.map((s) => s.node), 10_000, 1)
    harness = await BrowserHarness.start()
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
    }
  })

  after(async () => {
    await harness?.close()
    for (const site of sites) await site.stop()
  })

  it('C drains: the viewer gets nodeDraining, moves to B and frames go on in the same MediaStream', async () => {
    const [a, b, c] = sites as [NodeService, NodeService, NodeService]
    const publisher = await harness.openPublisher(a.signallingUrl!, { audio: false, video: true })
    const videoId = publisher.published.video!
    const viewer = await harness.openViewer([c.signallingUrl!, b.signallingUrl!], [videoId])
    await harness.waitForMediaFlowing(viewer)
    await viewer.startSampling(SAMPLE_MS)
    const before = new Set((await viewer.stats()).map((s) => s.consumerId))

    const drainAt = Date.now()
    const drained = c.drain({ timeoutMs: 10_000 })
    let moved: ClientEventRecord | undefined
    await waitFor(async () => (moved = (await viewer.clientEvents()).find((e) => e.type === 'reconnected')) !== undefined, {
      timeoutMs: 10_000, what: 'the helper moving off C'
    })
    assert.deepEqual({ ...moved!.detail }, { url: b.signallingUrl, previousUrl: c.signallingUrl, reason: 'draining', republished: [] })
    let resumed: FrameSample | undefined
    await waitFor(async () => (resumed = firstNewFrames(await viewer.samples(), videoId, drainAt, before)) !== undefined, {
      timeoutMs: 5000, what: 'frames decoded on the consumer at B'
    })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [element] = await viewer.elements(drainAt)
    console.log(`      drain → moved ${moved!.at - drainAt} ms, → frames on B ${resumed!.at - drainAt} ms; element freeze ${element?.longestPaintGapMs} ms`)
    assert.ok(element !== undefined)
    assert.equal(element.sameStream, true)
    assert.equal(element.currentTrack, true)
    assert.ok(element.longestPaintGapMs < RESUME_BUDGET_MS, `the element froze for ${element.longestPaintGapMs} ms`)
    assert.ok(framesOf(await viewer.samples(), resumed!.consumerId) - resumed!.framesDecoded >= 5, 'frames go on at B')
    assert.equal((await drained).drained, true)
    await viewer.close()
    await publisher.close()
  })

  it('B stops: the viewer on B loses its connection, moves to A and frames go on in the same MediaStream', async () => {
    const [a, b] = sites as [NodeService, NodeService]
    const publisher = await harness.openPublisher(a.signallingUrl!, { audio: false, video: true })
    const videoId = publisher.published.video!
    const viewer = await harness.openViewer([b.signallingUrl!, a.signallingUrl!], [videoId])
    await harness.waitForMediaFlowing(viewer)
    await viewer.startSampling(SAMPLE_MS)
    const before = new Set((await viewer.stats()).map((s) => s.consumerId))

    const stoppedAt = Date.now()
    await b.stop()
    let moved: ClientEventRecord | undefined
    await waitFor(async () => (moved = (await viewer.clientEvents()).find((e) => e.type === 'reconnected')) !== undefined, {
      timeoutMs: 10_000, what: 'the helper moving off B'
    })
    assert.deepEqual({ ...moved!.detail }, { url: a.signallingUrl, previousUrl: b.signallingUrl, reason: 'lost', republished: [] })
    let resumed: FrameSample | undefined
    await waitFor(async () => (resumed = firstNewFrames(await viewer.samples(), videoId, stoppedAt, before)) !== undefined, {
      timeoutMs: 5000, what: 'frames decoded on the consumer at A'
    })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [element] = await viewer.elements(resumed!.at)
    console.log(`      stop → moved ${moved!.at - stoppedAt} ms, → frames on A ${resumed!.at - stoppedAt} ms`)
    assert.ok(element !== undefined)
    assert.equal(element.sameStream, true)
    assert.equal(element.currentTrack, true)
    assert.ok(element.paintedSince >= 5, `the element painted ${element.paintedSince} frames since the resumption`)
  })
})
