// Data channel methods of the client signalling (docs/client-signalling.md, "Data channels"),
// with a real mediasoup worker and a node ws client speaking the protocol as
// mediasoup-client would.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createClientSignalling, createClientToken } from '../../src/signalling/index.js'
import type { ClientSignalling, ClientSignallingOptions } from '../../src/signalling/index.js'
import type { ClientGrants } from '../../src/signalling/token.js'
import { TestClient, assertError } from './test-client.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'
/** What Chromium's mediasoup-client sends as device.sctpCapabilities. */
const SCTP_CAPABILITIES = { numStreams: { OS: 1024, MIS: 1024 } }
/** What mediasoup-client sends for an ordered data channel on stream 0. */
const chat = (streamId = 0): Record<string, unknown> => ({ sctpStreamParameters: { streamId, ordered: true }, label: 'chat', protocol: '', appData: {} })

/** A router on a worker of its own (a data producer id may exist once per worker). */
async function createWorkerPair (): Promise<{ worker: ms.Worker, router: ms.Router }> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' })
  return { worker, router: await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] }) }
}

describe('client signalling: data channels', function () {
  this.timeout(20_000)
  let worker: ms.Worker
  let router: ms.Router
  let webRtcServer: ms.WebRtcServer
  let server: http.Server
  let signalling: ClientSignalling | undefined
  let clients: TestClient[]

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' })
    webRtcServer = await worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] })
  })
  after(() => worker.close())

  beforeEach(async () => {
    router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] })
    clients = []
    server = http.createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  })
  afterEach(async () => {
    for (const c of clients) c.close()
    signalling?.close()
    signalling = undefined
    router.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  function start (options: Partial<ClientSignallingOptions> = {}): string {
    signalling = createClientSignalling({ server, path: '/ws', router, webRtcServer, ...options })
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
  }

  async function connect (url: string, grants?: ClientGrants): Promise<TestClient> {
    const token = grants === undefined ? '' : `?token=${await createClientToken({ secret: SECRET, sub: 'someone', expiresInSeconds: 60, grants })}`
    const client = await TestClient.open(`${url}${token}`)
    clients.push(client)
    return client
  }

  async function sctpTransport (client: TestClient, direction: 'send' | 'recv'): Promise<string> {
    const t = await client.ok('createWebRtcTransport', { direction, sctpCapabilities: SCTP_CAPABILITIES })
    assert.equal((t.sctpParameters as ms.SctpParameters).MIS, 1024)
    return t.id as string
  }

  it('a transport made with sctpCapabilities answers sctpParameters; one made without carries no data channel', async () => {
    const client = await connect(start())
    await sctpTransport(client, 'send')
    const plain = await client.ok('createWebRtcTransport', { direction: 'send' })
    assert.equal(plain.sctpParameters, undefined)
    assertError(await client.request('produceData', { transportId: plain.id as string, ...chat() }), 'BadRequest')
  })

  it('produceData, then consumeData by another client; closeDataProducer sends it dataConsumerClosed', async () => {
    const url = start()
    const publisher = await connect(url)
    const viewer = await connect(url)
    const { id: dataProducerId } = await publisher.ok('produceData', { transportId: await sctpTransport(publisher, 'send'), ...chat(), protocol: 'json' })
    const recvId = await sctpTransport(viewer, 'recv')
    const consumed = await viewer.ok('consumeData', { transportId: recvId, dataProducerId: dataProducerId as string })
    assert.equal(consumed.dataProducerId, dataProducerId)
    assert.equal(consumed.label, 'chat')
    assert.equal(consumed.protocol, 'json')
    assert.equal(typeof (consumed.sctpStreamParameters as ms.SctpStreamParameters).streamId, 'number')
    await publisher.ok('closeDataProducer', { dataProducerId: dataProducerId as string })
    assert.deepEqual(await viewer.next('dataConsumerClosed'), { dataConsumerId: consumed.id, dataProducerId })
    assertError(await viewer.request('closeDataConsumer', { dataConsumerId: consumed.id as string }), 'NotFound')
    assertError(await publisher.request('closeDataProducer', { dataProducerId: dataProducerId as string }), 'NotFound')
  })

  it('consumeData of an id the router does not have is NotFound; resolveDataProducer is asked first and its failures are named', async () => {
    const asked: string[] = []
    const url = start({
      resolveDataProducer: async (dataProducerId, r) => {
        assert.equal(r, router)
        asked.push(dataProducerId)
        if (dataProducerId === 'missing') throw Object.assign(new Error('nowhere in the swarm'), { name: 'ProducerNotFoundError' })
        if (dataProducerId === 'flaky') throw new Error('request timed out')
      }
    })
    const client = await connect(url)
    const recvId = await sctpTransport(client, 'recv')
    assertError(await client.request('consumeData', { transportId: recvId, dataProducerId: 'missing' }), 'NotFound')
    assertError(await client.request('consumeData', { transportId: recvId, dataProducerId: 'flaky' }), 'Unavailable')
    assertError(await client.request('consumeData', { transportId: recvId, dataProducerId: 'elsewhere' }), 'NotFound')
    assert.deepEqual(asked, ['missing', 'flaky', 'elsewhere'])
  })

  it('grants: produceData needs publish, consumeData needs consume; a room grant sets and checks appData.room', async () => {
    const url = start({ authenticate: { secret: SECRET } })
    const viewerOnly = await connect(url, { consume: true })
    assertError(await viewerOnly.request('produceData', { transportId: 'x', ...chat() }), 'Forbidden')
    const publisher = await connect(url, { publish: true, room: 'r1' })
    assertError(await publisher.request('consumeData', { transportId: 'x', dataProducerId: 'y' }), 'Forbidden')
    assertError(await publisher.request('produceData', { transportId: await sctpTransport(publisher, 'send'), ...chat(), appData: { room: 'r2' } }), 'Forbidden')
    const { id } = await publisher.ok('produceData', { transportId: await sctpTransport(publisher, 'send'), ...chat() })
    const inRoom = await connect(url, { consume: true, room: 'r1' })
    await inRoom.ok('consumeData', { transportId: await sctpTransport(inRoom, 'recv'), dataProducerId: id as string })
    const otherRoom = await connect(url, { consume: true, room: 'r2' })
    assertError(await otherRoom.request('consumeData', { transportId: await sctpTransport(otherRoom, 'recv'), dataProducerId: id as string }), 'Forbidden')
  })

  it('a copy brought in for a consumeData refused by its room is released; one in use stays', async () => {
    // A router of another worker stands for another node: resolveDataProducer pipes from
    // it once, as node.pipeToRouter() does.
    const other = await createWorkerPair()
    const copies = new Map<string, ms.DataProducer>()
    try {
      const remote = await other.router.createDirectTransport()
      const inR2 = await remote.produceData({ label: 'x', appData: { room: 'r2' } })
      const url = start({
        authenticate: { secret: SECRET },
        resolveDataProducer: async (dataProducerId, r) => {
          let copy = copies.get(dataProducerId)
          if (copy === undefined || copy.closed) {
            const { pipeDataProducer } = await other.router.pipeToRouter({ dataProducerId, router: r })
            if (pipeDataProducer === undefined) throw new Error('mediasoup piped nothing')
            copies.set(dataProducerId, copy = pipeDataProducer)
          }
          return { pipeDataProducer: copy }
        }
      })
      const outsider = await connect(url, { consume: true, room: 'r1' })
      const reply = await outsider.request('consumeData', { transportId: await sctpTransport(outsider, 'recv'), dataProducerId: inR2.id })
      assertError(reply, 'Forbidden')
      const dump = await router.dump()
      assert.equal(dump.mapDataProducerIdDataConsumerIds.some((e) => e.key === inR2.id), false, 'the copy was released')
      // With a consumer of the room on it, a refused consumeData leaves it alone.
      const member = await connect(url, { consume: true, room: 'r2' })
      await member.ok('consumeData', { transportId: await sctpTransport(member, 'recv'), dataProducerId: inR2.id })
      assertError(await outsider.request('consumeData', { transportId: await sctpTransport(outsider, 'recv'), dataProducerId: inR2.id }), 'Forbidden')
      assert.equal((await router.dump()).mapDataProducerIdDataConsumerIds.some((e) => e.key === inR2.id), true, 'the copy in use stays')
    } finally {
      other.worker.close()
    }
  })

  it('maxDataProducers and maxDataConsumers are LimitExceeded, counted by reason', async () => {
    const url = start({ limits: { maxDataProducers: 1, maxDataConsumers: 1 } })
    const client = await connect(url)
    const sendId = await sctpTransport(client, 'send')
    const { id } = await client.ok('produceData', { transportId: sendId, ...chat(0) })
    assertError(await client.request('produceData', { transportId: sendId, ...chat(1) }), 'LimitExceeded')
    const recvId = await sctpTransport(client, 'recv')
    await client.ok('consumeData', { transportId: recvId, dataProducerId: id as string })
    assertError(await client.request('consumeData', { transportId: recvId, dataProducerId: id as string }), 'LimitExceeded')
    assert.equal(signalling?.refusals['data-producers'], 1)
    assert.equal(signalling?.refusals['data-consumers'], 1)
  })

  const badRequests: Array<[string, string, Record<string, unknown>]> = [
    ['sctpCapabilities without numStreams', 'createWebRtcTransport', { direction: 'send', sctpCapabilities: {} }],
    ['sctpCapabilities with too many streams', 'createWebRtcTransport', { direction: 'send', sctpCapabilities: { numStreams: { OS: 70000, MIS: 1 } } }],
    ['a stream id over 65535', 'produceData', { transportId: 't', ...chat(70000) }],
    ['no sctpStreamParameters', 'produceData', { transportId: 't', label: 'x' }],
    ['a non-boolean ordered', 'produceData', { transportId: 't', sctpStreamParameters: { streamId: 1, ordered: 'yes' } }],
    ['a label that is not a string', 'produceData', { transportId: 't', ...chat(), label: 5 }],
    ['a label over 1024 characters', 'produceData', { transportId: 't', ...chat(), label: 'x'.repeat(1025) }],
    ['a dataProducerId with a slash', 'consumeData', { transportId: 't', dataProducerId: 'a/b' }],
    ['no dataConsumerId', 'closeDataConsumer', {}]
  ]
  for (const [what, method, data] of badRequests) {
    it(`${method} with ${what} is BadRequest`, async () => {
      const client = await connect(start())
      assertError(await client.request(method as 'produceData', data), 'BadRequest')
      await client.ok('getRouterRtpCapabilities')
    })
  }
})
