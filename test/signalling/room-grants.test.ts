// Room grants across real swarm nodes in this process: producers of rooms "a" and "b" live
// on node A; a client of node B's signalling holding a token for room "a" consumes the
// room-"a" one (pulled from A, RTP arriving at B) and is refused the room-"b" one, with
// nothing of that attempt left on B or A.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { types as ms } from 'mediasoup'
import { createClientSignalling, createClientToken } from '../../src/signalling/index.js'
import type { ClientGrants, ClientSignalling } from '../../src/signalling/index.js'
import { createRtpSource, mediaCodecs } from '../harness/index.js'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'
import { TestClient, assertError, until } from './test-client.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'

const opusRtpParameters = (ssrc: number): ms.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }]
})

describe('room grants on a swarm: the node serving the client checks the room of producers pulled from other nodes', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  let a: SwarmNode
  let b: SwarmNode
  let bRouter: ms.Router
  let server: http.Server
  let signalling: ClientSignalling
  let url: string
  let sources: RtpSource[] = []
  let clients: TestClient[] = []

  before(async () => {
    nodes = await startChain(2)
    await waitConnected(nodes)
    ;[a, b] = nodes as [SwarmNode, SwarmNode]
    bRouter = await b.createRouter({ mediaCodecs })
    server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    signalling = createClientSignalling({
      server,
      router: bRouter,
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      authenticate: { secret: SECRET },
      resolveProducer: async (producerId, router) => await b.pipeToRouter({ producerId, router })
    })
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(() => {
    for (const c of clients) c.close()
    for (const s of sources) s.close()
    clients = []
    sources = []
  })
  after(async () => {
    signalling?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await stopAll(nodes)
  })

  async function client (grants: ClientGrants): Promise<TestClient> {
    const token = await createClientToken({ secret: SECRET, sub: 'viewer', expiresInSeconds: 60, grants })
    const c = await TestClient.open(`${url}/?token=${token}`)
    clients.push(c)
    return c
  }

  async function publishOnA (room: string): Promise<string> {
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 50, appData: { room } })
    sources.push(source)
    return source.producer.id
  }

  /** Bytes the copy of `producerId` in B's router has received so far. */
  async function bytesAtB (producerId: string): Promise<number> {
    const { pipeProducer } = await b.pipeToRouter({ producerId, router: bRouter })
    return (await pipeProducer.getStats()).reduce((n, s) => n + s.byteCount, 0)
  }

  it('a room-"a" client consumes a room-"a" producer of node A (RTP arrives at B); a room-"b" one is Forbidden and its pull is undone', async () => {
    const inA = await publishOnA('a')
    const inB = await publishOnA('b')
    const viewer = await client({ consume: true, room: 'a' })
    const recvId = (await viewer.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    const transportsBefore = (await bRouter.dump()).transportIds.length

    assertError(await viewer.request('consume', { transportId: recvId, producerId: inB, rtpCapabilities: bRouter.rtpCapabilities }), 'Forbidden')
    // The copy B pulled to learn its room is released: no pipe left on B or A, no consumer.
    await until(() => b.pipeStats.incomingPipes === 0 && a.pipeStats.outgoingPipes === 0, 5000)
    assert.equal(b.pipeStats.incomingProducers, 0)
    assert.equal(b.getDistribution(inB), undefined, 'B keeps no copy')
    assert.equal(a.getDistribution(inB)?.downstream.length, 0)
    const dump = await bRouter.dump()
    assert.deepEqual(dump.mapProducerIdConsumerIds, [])
    // The client's transport, and at most the spare pipe transport a pull leaves ready for the next.
    assert.ok(dump.transportIds.length <= transportsBefore + 1, `${dump.transportIds.length} transports`)
    assert.equal(signalling.errorCounts.Forbidden, 1)

    const consumed = await viewer.ok('consume', { transportId: recvId, producerId: inA, rtpCapabilities: bRouter.rtpCapabilities })
    assert.equal(consumed.producerId, inA)
    await viewer.ok('resumeConsumer', { consumerId: consumed.id as string })
    assert.deepEqual(a.getDistribution(inA)?.downstream, [b.peerId])
    const before = await bytesAtB(inA)
    await until(async () => await bytesAtB(inA) > before + 2000, 5000)
    assert.deepEqual((await bRouter.dump()).mapProducerIdConsumerIds.find((e) => e.key === inA)?.values, [consumed.id])
  })

  it('a client without a room grant consumes any room; a room-"a" one is Forbidden a copy others already use, which stays', async () => {
    const inB = await publishOnA('b')
    const anyRoom = await client({ consume: true })
    const anyRecv = (await anyRoom.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    await anyRoom.ok('consume', { transportId: anyRecv, producerId: inB, rtpCapabilities: bRouter.rtpCapabilities })

    const roomA = await client({ consume: true, room: 'a' })
    const recvA = (await roomA.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    assertError(await roomA.request('consume', { transportId: recvA, producerId: inB, rtpCapabilities: bRouter.rtpCapabilities }), 'Forbidden')
    assert.equal(b.getDistribution(inB)?.upstream, a.peerId, 'the copy used by the other client stays')
  })

  it('a room-"a" publisher\'s producers carry room "a" (appData.room), travel with it to other nodes, and cannot name another room', async () => {
    const publisher = await client({ publish: true, room: 'a' })
    const sendId = (await publisher.ok('createWebRtcTransport', { direction: 'send' })).id as string
    const { id } = await publisher.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(7), appData: { label: 'mic' } })
    assert.deepEqual((await publisher.ok('listProducers')).producers, [{ id, kind: 'audio', paused: false, appData: { label: 'mic', room: 'a' } }])
    assertError(await publisher.request('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(8), appData: { room: 'b' } }), 'Forbidden')

    const { pipeProducer } = await a.pipeToRouter({ producerId: id as string, router: await a.createRouter({ mediaCodecs }) })
    assert.deepEqual(pipeProducer.appData, { label: 'mic', room: 'a' })

    // Same node, same router: a room-"b" viewer is refused it, a room-"a" one is not.
    const roomB = await client({ consume: true, room: 'b' })
    const recvB = (await roomB.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    assertError(await roomB.request('consume', { transportId: recvB, producerId: id, rtpCapabilities: bRouter.rtpCapabilities }), 'Forbidden')
    const roomA = await client({ consume: true, room: 'a' })
    const recvA = (await roomA.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    await roomA.ok('consume', { transportId: recvA, producerId: id, rtpCapabilities: bRouter.rtpCapabilities })
    assert.ok(b.getDistribution(id as string) !== undefined)
  })
})
