// Rooms across real swarm nodes in this process (A ← B ← C, a bootstrap chain): producers
// of room "r" are created on A and on B, one of room "s" on A; a client of C's signalling
// lists room "r" and gets both, wherever they live, then hears of a producer published on B
// (newProducer) and of its close (producerClosed), and of B's producers when B stops.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { types as ms } from 'mediasoup'
import { createClientSignalling, createClientToken, MAX_WATCHED_ROOMS, RoomLimitError } from '../../src/index.js'
import type { ClientGrants, ClientSignalling, ProducerInfo, SwarmNode } from '../../src/index.js'
import { createRtpSource, mediaCodecs } from '../harness/index.js'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { RtpSource } from '../harness/index.js'
import { TestClient, assertError } from './test-client.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'
/** Polls every 2 s (the default): a change on another node shows within a poll or two. */
const NOTICE_MS = 10_000

describe('rooms across the swarm: a client lists and follows the producers of its room wherever they were published', function () {
  this.timeout(90_000)
  let nodes: SwarmNode[] = []
  let a: SwarmNode
  let b: SwarmNode
  let c: SwarmNode
  let cRouter: ms.Router
  let server: http.Server
  let signalling: ClientSignalling
  let url: string
  const sources: RtpSource[] = []
  const clients: TestClient[] = []

  before(async () => {
    nodes = await startChain(3)
    // A busy machine (other jobs) can take a while to connect a chain.
    await waitConnected(nodes, 30_000)
    ;[a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    cRouter = await c.createRouter({ mediaCodecs })
    server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    signalling = createClientSignalling({
      server,
      router: cRouter,
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      authenticate: { secret: SECRET },
      rooms: c,
      resolveProducer: async (producerId, router) => await c.pipeToRouter({ producerId, router })
    })
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    for (const client of clients) client.close()
    for (const s of sources) s.close()
    signalling?.close()
    if (server !== undefined) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
    await stopAll(nodes)
  })

  async function client (grants: ClientGrants): Promise<TestClient> {
    const token = await createClientToken({ secret: SECRET, sub: 'member', expiresInSeconds: 60, grants })
    const opened = await TestClient.open(`${url}/?token=${token}`)
    clients.push(opened)
    return opened
  }

  async function publish (node: SwarmNode, room: string, kind: 'audio' | 'video' = 'audio'): Promise<RtpSource> {
    const source = await createRtpSource({ router: await node.createRouter({ mediaCodecs }), kind, packetsPerSecond: 20, appData: { room, label: `${kind} on ${node === a ? 'A' : 'B'}` } })
    sources.push(source)
    return source
  }

  const ids = (producers: unknown): string[] => (producers as ProducerInfo[]).map((p) => p.id).sort()

  let onA: RtpSource
  let onB: RtpSource
  let member: TestClient

  it('listProducers { room } on C answers the room\'s producers of A and B, not those of another room', async () => {
    onA = await publish(a, 'r')
    onB = await publish(b, 'r', 'video')
    const otherRoom = await publish(a, 's')
    member = await client({ consume: true, room: 'r' })
    const requestsBefore = (a.requestCounts['room-producers'] ?? 0) + (b.requestCounts['room-producers'] ?? 0)
    // Announcements to the room's homes take a moment after the producers appear.
    let listed: ProducerInfo[] = []
    const deadline = Date.now() + NOTICE_MS
    while (ids(listed).length < 2 && Date.now() < deadline) listed = (await member.ok('listProducers', { room: 'r' })).producers as ProducerInfo[]
    assert.deepEqual(ids(listed), [onA.producer.id, onB.producer.id].sort())
    assert.ok(!ids(listed).includes(otherRoom.producer.id))
    const video = listed.find((p) => p.id === onB.producer.id)!
    assert.deepEqual(video, { id: onB.producer.id, kind: 'video', paused: false, appData: { room: 'r', label: 'video on B' } })
    // C asked the nodes themselves (the wire message ran).
    assert.ok((a.requestCounts['room-producers'] ?? 0) + (b.requestCounts['room-producers'] ?? 0) > requestsBefore)
    // A listed producer is consumable from C (pulled from its node).
    const recv = (await member.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    const consumed = await member.ok('consume', { transportId: recv, producerId: onA.producer.id, rtpCapabilities: cRouter.rtpCapabilities })
    assert.equal(consumed.producerId, onA.producer.id)
    // Layer and priority requests reach mediasoup on any consumer (a simple one takes them as no-ops).
    await member.ok('setConsumerPriority', { consumerId: consumed.id, priority: 5 })
    await member.ok('setConsumerPreferredLayers', { consumerId: consumed.id, spatialLayer: 0 })
  })

  it('the client gets newProducer when a producer of the room is published on B, and producerClosed when it closes', async () => {
    const published = Date.now()
    const third = await publish(b, 'r')
    const added = await member.next('newProducer', NOTICE_MS)
    const addedMs = Date.now() - published
    assert.equal(added.room, 'r')
    assert.equal(added.producer.id, third.producer.id)
    assert.equal(added.producer.appData.room, 'r')
    assert.deepEqual(ids((await member.ok('listProducers', { room: 'r' })).producers), [onA.producer.id, onB.producer.id, third.producer.id].sort())

    const closing = Date.now()
    third.close()
    const closed = await member.next('producerClosed', NOTICE_MS)
    assert.deepEqual(closed, { room: 'r', producerId: third.producer.id })
    console.log(`      newProducer ${addedMs} ms after the publish on B, producerClosed ${Date.now() - closing} ms after its close`)
    // Nothing about room "s" reached this client.
    assert.ok(!member.notifications.some((n) => JSON.stringify(n).includes('"room":"s"')))
  })

  it('a token with room grant "r" cannot list room "s" (Forbidden); one without a room grant can', async () => {
    assertError(await member.request('listProducers', { room: 's' }), 'Forbidden')
    const anyRoom = await client({ consume: true })
    const listed = (await anyRoom.ok('listProducers', { room: 's' })).producers as ProducerInfo[]
    assert.equal(listed.length, 1)
    assert.equal(listed[0]!.appData.room, 's')
    assertError(await anyRoom.request('listProducers', { room: '' }), 'BadRequest')
  })

  it('node.watchRoom() refuses a room past MAX_WATCHED_ROOMS (RoomLimitError) and a bad room name (TypeError)', async () => {
    await assert.rejects(c.watchRoom('', () => {}), TypeError)
    const watches = []
    // "r" and "s" are watched for the clients already.
    for (let i = 0; i < MAX_WATCHED_ROOMS - 2; i++) watches.push(await c.watchRoom(`extra-${i}`, () => {}))
    await assert.rejects(c.watchRoom('one-too-many', () => {}), RoomLimitError)
    // A room already watched is shared, not refused.
    const again = await c.watchRoom('r', () => {})
    assert.equal(again.producers.length, 2)
    again.stop()
    for (const w of watches) w.stop()
    const now = await c.watchRoom('one-too-many', () => {})
    now.stop()
  })

  it('when B stops, the client gets producerClosed for B\'s producer of the room (B missed two polls)', async () => {
    const started = Date.now()
    await b.stop()
    const closed = await member.next('producerClosed', NOTICE_MS)
    assert.deepEqual(closed, { room: 'r', producerId: onB.producer.id })
    console.log(`      producerClosed ${Date.now() - started} ms after B stopped`)
    assert.deepEqual(ids((await member.ok('listProducers', { room: 'r' })).producers), [onA.producer.id])
  })
})
