import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { WebSocket, WebSocketServer } from 'ws'
import {
  CLOSE_UNAUTHORIZED, copyEventsOf, createClientSignalling, createClientToken
} from '../../src/signalling/index.js'
import type {
  ClientMethod, ClientSignalling, ClientSignallingOptions, CopyEvent, CopyEventSource, Reply, SignallingErrorName
} from '../../src/signalling/index.js'
import { createRtpSource } from '../harness/index.js'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { CopyCloseReason, SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'
import { TestClient, assertError, until } from './test-client.js'

const mediaCodecs: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }
]

const SECRET = 'a-test-secret-of-at-least-32-characters'

/** What a browser's mediasoup-client would send for an Opus track (no DTLS needed to produce). */
const opusRtpParameters = (ssrc: number): ms.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }]
})

const FINGERPRINT = { algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }

/** A CopyEventSource the test drives, as a swarm node would. */
class FakeCopyEvents implements CopyEventSource {
  private readonly listeners = new Set<(event: CopyEvent) => void>()

  onCopyEvents (listener: (event: CopyEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit (event: CopyEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  get listening (): number {
    return this.listeners.size
  }
}

describe('client signalling (node ws client)', function () {
  this.timeout(20_000)
  let worker: ms.Worker
  let router: ms.Router
  let webRtcServer: ms.WebRtcServer
  let server: http.Server
  let signalling: ClientSignalling | undefined
  let clients: TestClient[]

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' })
    webRtcServer = await worker.createWebRtcServer({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }]
    })
  })
  after(() => {
    worker.close()
  })

  beforeEach(async () => {
    router = await worker.createRouter({ mediaCodecs })
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

  function start (options: Partial<ClientSignallingOptions> = {}, path = '/signalling'): string {
    signalling = createClientSignalling({ server, path, router, webRtcServer, ...options })
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}${path}`
  }

  async function connect (url: string): Promise<TestClient> {
    const client = await TestClient.open(url)
    clients.push(client)
    return client
  }

  async function transport (client: TestClient, direction: 'send' | 'recv'): Promise<string> {
    return (await client.ok('createWebRtcTransport', { direction })).id as string
  }

  describe('requests', () => {
    it('answers getRouterRtpCapabilities and createWebRtcTransport with the router\'s data', async () => {
      const client = await connect(start())
      const caps = await client.ok('getRouterRtpCapabilities')
      assert.deepEqual(caps, JSON.parse(JSON.stringify(router.rtpCapabilities)))
      const t = await client.ok('createWebRtcTransport', { direction: 'send' })
      assert.equal(typeof t.id, 'string')
      const candidates = t.iceCandidates as ms.IceCandidate[]
      assert.deepEqual(new Set(candidates.map((c) => c.protocol)), new Set(['udp', 'tcp']))
      assert.ok(candidates.every((c) => c.ip === '127.0.0.1'))
      assert.ok(((t.dtlsParameters as ms.DtlsParameters).fingerprints).length > 0)
    })

    it('uses listenInfos when there is no webRtcServer', async () => {
      const client = await connect(start({ webRtcServer: undefined, listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] }))
      const t = await client.ok('createWebRtcTransport', { direction: 'recv' })
      assert.deepEqual((t.iceCandidates as ms.IceCandidate[]).map((c) => c.protocol), ['udp'])
    })

    it('produces, lists, pauses and closes a producer, and a consumer on another client gets consumerClosed', async () => {
      const url = start()
      const publisher = await connect(url)
      const viewer = await connect(url)
      const sendId = await transport(publisher, 'send')
      const { id: producerId } = await publisher.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(1111), appData: { label: 'mic' } })
      assert.deepEqual((await publisher.ok('listProducers')).producers, [{ id: producerId, kind: 'audio', paused: false, appData: { label: 'mic' } }])
      assert.deepEqual((await viewer.ok('listProducers')).producers, [], 'listProducers lists only the caller\'s producers')
      await publisher.ok('pauseProducer', { producerId })
      assert.equal(((await publisher.ok('listProducers')).producers as Array<{ paused: boolean }>)[0]?.paused, true)
      await publisher.ok('resumeProducer', { producerId })

      const recvId = await transport(viewer, 'recv')
      const consumed = await viewer.ok('consume', { transportId: recvId, producerId, rtpCapabilities: router.rtpCapabilities })
      assert.equal(consumed.producerId, producerId)
      assert.equal(consumed.kind, 'audio')
      assert.equal(((consumed.rtpParameters as ms.RtpParameters).codecs[0])?.mimeType, 'audio/opus')
      const consumerId = consumed.id as string
      await viewer.ok('resumeConsumer', { consumerId })
      await viewer.ok('requestKeyFrame', { consumerId })
      await viewer.ok('pauseConsumer', { consumerId })

      await publisher.ok('closeProducer', { producerId })
      await until(() => viewer.notifications.length > 0)
      assert.deepEqual(viewer.notifications, [{ notification: 'consumerClosed', data: { consumerId, producerId, reason: 'producerclosed' } }])
      assertError(await viewer.request('resumeConsumer', { consumerId }), 'NotFound')
    })

    it('calls resolveProducer before consume and maps its failures', async () => {
      const asked: string[] = []
      const url = start({
        resolveProducer: async (producerId, r) => {
          assert.equal(r, router)
          asked.push(producerId)
          if (producerId === 'missing') throw Object.assign(new Error('nowhere in the swarm'), { name: 'ProducerNotFoundError' })
          if (producerId === 'flaky') throw new Error('request timed out')
        }
      })
      const client = await connect(url)
      const recvId = await transport(client, 'recv')
      assertError(await client.request('consume', { transportId: recvId, producerId: 'missing', rtpCapabilities: router.rtpCapabilities }), 'NotFound')
      assertError(await client.request('consume', { transportId: recvId, producerId: 'flaky', rtpCapabilities: router.rtpCapabilities }), 'Unavailable')
      assert.deepEqual(asked, ['missing', 'flaky'])
    })

    it('attaches to a ws WebSocketServer owned by the caller', async () => {
      const wss = new WebSocketServer({ server, path: '/own' })
      try {
        signalling = createClientSignalling({ webSocketServer: wss, router, webRtcServer })
        const client = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/own`)
        await client.ok('createWebRtcTransport', { direction: 'recv' })
        assert.equal(signalling.connectionCount, 1)
      } finally {
        wss.close()
      }
    })

    it('answers LimitExceeded past maxPendingRequests', async () => {
      const client = await connect(start({
        limits: { maxPendingRequests: 1 },
        resolveProducer: async () => await new Promise((resolve) => setTimeout(resolve, 200))
      }))
      const recvId = await transport(client, 'recv')
      const slow = client.request('consume', { transportId: recvId, producerId: 'p1', rtpCapabilities: router.rtpCapabilities })
      assertError(await client.request('listProducers', {}), 'LimitExceeded')
      assertError(await slow, 'NotFound')
    })

    it('accepts a router chosen per connection', async () => {
      let calls = 0
      const client = await connect(start({ router: async () => { calls++; return router } }))
      await client.ok('getRouterRtpCapabilities')
      await client.ok('createWebRtcTransport', { direction: 'send' })
      assert.equal(calls, 1)
    })
  })

  describe('bad input gets a named error reply and the connection keeps working', () => {
    let client: TestClient
    let sendId: string
    let recvId: string

    beforeEach(async () => {
      client = await connect(start({ limits: { maxMessageBytes: 4096, maxTransports: 2 } }))
      sendId = await transport(client, 'send')
      recvId = await transport(client, 'recv')
    })
    afterEach(async () => {
      // The server kept serving this client.
      await client.ok('getRouterRtpCapabilities')
    })

    it('malformed JSON → BadRequest with id null', async () => {
      const reply = assertError(await client.raw('{"id": 1, "method": '), 'BadRequest')
      assert.equal(reply.id, null)
    })

    it('a binary frame → BadRequest', async () => {
      assertError(await client.raw(Buffer.from('{"id":1}')), 'BadRequest')
    })

    it('a message over the size limit → TooLarge', async () => {
      const reply = assertError(await client.raw(JSON.stringify({ id: 5, method: 'listProducers', data: { pad: 'x'.repeat(5000) } })), 'TooLarge')
      assert.equal(reply.id, null)
    })

    it('unknown method → UnknownMethod with the request id', async () => {
      const reply = assertError(await client.raw(JSON.stringify({ id: 'q1', method: 'launchRocket', data: {} }), 'q1'), 'UnknownMethod')
      assert.equal(reply.id, 'q1')
    })

    const badMessages: Array<[string, unknown, SignallingErrorName]> = [
      ['a JSON array', [1, 2], 'BadRequest'],
      ['no id', { method: 'listProducers', data: {} }, 'BadRequest'],
      ['an object id', { id: { a: 1 }, method: 'listProducers' }, 'BadRequest'],
      ['a non-object data', { id: 7, method: 'createWebRtcTransport', data: 'send' }, 'BadRequest'],
      ['a bad direction', { id: 7, method: 'createWebRtcTransport', data: { direction: 'sideways' } }, 'BadRequest'],
      ['a numeric transportId', { id: 7, method: 'connectWebRtcTransport', data: { transportId: 12, dtlsParameters: { fingerprints: [FINGERPRINT] } } }, 'BadRequest'],
      ['no fingerprints', { id: 7, method: 'connectWebRtcTransport', data: { transportId: 'x', dtlsParameters: { role: 'client', fingerprints: [] } } }, 'BadRequest'],
      ['a bad fingerprint', { id: 7, method: 'connectWebRtcTransport', data: { transportId: 'x', dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'zz' }] } } }, 'BadRequest'],
      ['a bad kind', { id: 7, method: 'produce', data: { transportId: 'x', kind: 'smell', rtpParameters: opusRtpParameters(1) } }, 'BadRequest'],
      ['no codecs', { id: 7, method: 'produce', data: { transportId: 'x', kind: 'audio', rtpParameters: { codecs: [] } } }, 'BadRequest'],
      ['an array appData', { id: 7, method: 'produce', data: { transportId: 'x', kind: 'audio', rtpParameters: opusRtpParameters(1), appData: [] } }, 'BadRequest'],
      ['a producerId with spaces', { id: 7, method: 'consume', data: { transportId: 'x', producerId: 'a b', rtpCapabilities: {} } }, 'BadRequest'],
      ['a string rtpCapabilities', { id: 7, method: 'consume', data: { transportId: 'x', producerId: 'p', rtpCapabilities: 'all' } }, 'BadRequest'],
      ['an unknown transport', { id: 7, method: 'connectWebRtcTransport', data: { transportId: 'nope', dtlsParameters: { fingerprints: [FINGERPRINT] } } }, 'NotFound'],
      ['an unknown consumer', { id: 7, method: 'resumeConsumer', data: { consumerId: 'nope' } }, 'NotFound'],
      ['an unknown producer to pause', { id: 7, method: 'pauseProducer', data: { producerId: 'nope' } }, 'NotFound']
    ]
    for (const [what, message, name] of badMessages) {
      it(`${what} → ${name}`, async () => {
        const id = (message as { id?: unknown }).id
        const reply = assertError(await client.raw(JSON.stringify(message), typeof id === 'number' ? id : null), name)
        assert.equal(reply.id, typeof id === 'number' ? id : null)
      })
    }

    it('rtpParameters mediasoup rejects → BadRequest', async () => {
      const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 'one-one-one', clockRate: 48000 }], encodings: [{ ssrc: 1 }] }
      assertError(await client.request('produce', { transportId: sendId, kind: 'audio', rtpParameters }), 'BadRequest')
    })

    it('produce on a recv transport → BadRequest', async () => {
      assertError(await client.request('produce', { transportId: recvId, kind: 'audio', rtpParameters: opusRtpParameters(2) }), 'BadRequest')
    })

    it('consume of an unknown producer id → NotFound', async () => {
      assertError(await client.request('consume', { transportId: recvId, producerId: '3f0c1e9a-0000-4000-8000-000000000000', rtpCapabilities: router.rtpCapabilities }), 'NotFound')
    })

    it('consume with rtpCapabilities that cannot receive the producer → CannotConsume', async () => {
      const { id: producerId } = await client.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(3) })
      const videoOnly = { codecs: router.rtpCapabilities.codecs?.filter((c) => c.kind === 'video'), headerExtensions: [] }
      assertError(await client.request('consume', { transportId: recvId, producerId, rtpCapabilities: videoOnly }), 'CannotConsume')
    })

    it('connecting a transport twice → MediaError', async () => {
      await client.ok('connectWebRtcTransport', { transportId: sendId, dtlsParameters: { role: 'client', fingerprints: [FINGERPRINT] } })
      assertError(await client.request('connectWebRtcTransport', { transportId: sendId, dtlsParameters: { role: 'client', fingerprints: [FINGERPRINT] } }), 'MediaError')
    })

    it('a transport over the per-connection limit → LimitExceeded', async () => {
      assertError(await client.request('createWebRtcTransport', { direction: 'send' }), 'LimitExceeded')
    })
  })

  it('counts error replies by name', async () => {
    const client = await connect(start())
    await client.raw('nope')
    await client.request('launchRocket' as ClientMethod, {})
    assert.equal(signalling?.errorCounts.BadRequest, 1)
    assert.equal(signalling?.errorCounts.UnknownMethod, 1)
  })

  describe('tokens', () => {
    const token = async (actions: Array<'publish' | 'consume'>, expiresInSeconds = 60, issuedAt?: number): Promise<string> =>
      await createClientToken({ secret: SECRET, sub: 'alice', expiresInSeconds, grants: Object.fromEntries(actions.map((a) => [a, true])), issuedAt })

    async function refusal (url: string): Promise<{ code: number, reason: string }> {
      try {
        await connect(url)
      } catch (err) {
        const { code, reason } = err as { code: number, reason: string }
        return { code, reason }
      }
      throw new Error('connection was accepted')
    }

    it('accepts a valid token and allows its actions', async () => {
      const client = await connect(`${start({ authenticate: { secret: SECRET } })}?token=${await token(['publish', 'consume'])}`)
      const sendId = await transport(client, 'send')
      await client.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(4) })
      await transport(client, 'recv')
    })

    it('refuses a connection without a token, with a clear close reason', async () => {
      const { code, reason } = await refusal(start({ authenticate: { secret: SECRET } }))
      assert.equal(code, CLOSE_UNAUTHORIZED)
      assert.equal(reason, 'unauthorized: missing token')
      assert.equal(signalling?.refusedConnections, 1)
      assert.equal(signalling?.refusals.unauthorized, 1)
    })

    it('refuses a token signed with another secret, or tampered with', async () => {
      const url = start({ authenticate: { secret: SECRET } })
      const foreign = await createClientToken({ secret: 'another-secret-of-at-least-32-characters', sub: 'mallory', expiresInSeconds: 60, grants: { publish: true } })
      assert.deepEqual(await refusal(`${url}?token=${foreign}`), { code: CLOSE_UNAUTHORIZED, reason: 'unauthorized: bad token signature' })
      const [header, , sig] = (await token(['consume'])).split('.')
      const claims = Buffer.from(JSON.stringify({ sub: 'alice', exp: 9_999_999_999, grants: { publish: true, consume: true } })).toString('base64url')
      assert.deepEqual(await refusal(`${url}?token=${header}.${claims}.${sig}`), { code: CLOSE_UNAUTHORIZED, reason: 'unauthorized: bad token signature' })
      assert.deepEqual(await refusal(`${url}?token=garbage`), { code: CLOSE_UNAUTHORIZED, reason: 'unauthorized: malformed token' })
    })

    it('refuses an expired token', async () => {
      const url = start({ authenticate: { secret: SECRET } })
      const expired = await token(['publish'], 60, Math.floor(Date.now() / 1000) - 120)
      assert.deepEqual(await refusal(`${url}?token=${expired}`), { code: CLOSE_UNAUTHORIZED, reason: 'unauthorized: token expired' })
    })

    it('answers Forbidden for an action the token does not allow', async () => {
      const client = await connect(`${start({ authenticate: { secret: SECRET } })}?token=${await token(['consume'])}`)
      await client.ok('getRouterRtpCapabilities')
      assertError(await client.request('createWebRtcTransport', { direction: 'send' }), 'Forbidden')
      const recvId = await transport(client, 'recv')
      assertError(await client.request('produce', { transportId: recvId, kind: 'audio', rtpParameters: opusRtpParameters(5) }), 'Forbidden')
    })

    it('createClientSignalling() refuses a secret under 32 characters', () => {
      assert.throws(() => createClientSignalling({ server, router, webRtcServer, authenticate: { secret: 'x'.repeat(31) } }), TypeError)
    })

    it('requests sent before the token is checked wait for it, and those of a refused token get no answer', async () => {
      const url = start({ authenticate: { secret: SECRET } })
      const early = new WebSocket(`${url}?token=${await token(['consume'])}`)
      const replies: Reply[] = []
      early.on('message', (raw) => replies.push(JSON.parse(String(raw)) as Reply))
      await new Promise((resolve) => early.once('open', resolve))
      early.send(JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities' }))
      await until(() => replies.length === 1)
      assert.equal(replies[0]?.ok, true)
      early.close()

      const refused = new WebSocket(`${url}?token=${await token(['consume'], 60, 1)}`)
      const answered: unknown[] = []
      refused.on('message', (raw) => answered.push(raw))
      refused.once('open', () => refused.send(JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities' })))
      const code = await new Promise((resolve) => refused.once('close', resolve))
      assert.equal(code, CLOSE_UNAUTHORIZED)
      assert.deepEqual(answered, [])
      await until(() => signalling?.connectionCount === 0)
    })
  })

  describe('lifecycle', () => {
    it('closes a client\'s transports, producers and consumers when it disconnects', async () => {
      const url = start()
      const client = await connect(url)
      const other = await connect(url)
      const sendId = await transport(client, 'send')
      const { id: producerId } = await client.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opusRtpParameters(6) })
      const recvId = await transport(client, 'recv')
      await client.ok('consume', { transportId: recvId, producerId, rtpCapabilities: router.rtpCapabilities })
      await transport(other, 'recv')
      assert.equal((await router.dump()).transportIds.length, 3)

      client.close()
      await until(async () => (await router.dump()).transportIds.length === 1)
      const dump = await router.dump()
      assert.deepEqual(dump.mapProducerIdConsumerIds, [])
      await until(() => signalling?.connectionCount === 1)
      assertError(await other.request('consume', { transportId: (await other.ok('createWebRtcTransport', { direction: 'recv' })).id as string, producerId, rtpCapabilities: router.rtpCapabilities }), 'NotFound')
    })

    it('close() disconnects clients and closes their transports, so the WebRtcServer can then close safely', async () => {
      const ownServer = await worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] })
      const client = await connect(start({ webRtcServer: ownServer }))
      await transport(client, 'send')
      signalling?.close()
      assert.equal((await client.closed).code, 1001)
      ownServer.close()
      const r = await worker.createRouter({ mediaCodecs })
      r.close()
      assert.equal(worker.died, false)
    })

    it('closes a connection with 1009 when a message is over 4 × maxMessageBytes', async () => {
      const client = await connect(start({ limits: { maxMessageBytes: 1024 } }))
      client.ws.send(JSON.stringify({ id: 1, method: 'listProducers', data: { pad: 'x'.repeat(5000) } }))
      assert.equal((await client.closed).code, 1009)
      await until(() => signalling?.connectionCount === 0)
    })

    it('leaves upgrade requests on other paths alone', async () => {
      start({}, '/signalling')
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/elsewhere`
      await assert.rejects(connect(url), /404/)
    })

    it('closes every client with code 4410 when their router closes', async () => {
      const url = start()
      const many = await Promise.all(Array.from({ length: 12 }, async () => await connect(url)))
      await Promise.all(many.map(async (c) => await c.ok('getRouterRtpCapabilities')))
      router.close()
      const codes = await Promise.all(many.map(async (c) => (await c.closed).code))
      assert.deepEqual(new Set(codes), new Set([4410]))
      router = await worker.createRouter({ mediaCodecs })
    })
  })

  // A test double plays the swarm node: a copy of a remote producer is an RTP source here,
  // its loss a copyclosed event then the source's close (the order a node keeps), its
  // restore a new source with the same producer id then producerrestored.
  describe('consumers of copies: close reasons and restores (CopyEventSource test double)', () => {
    let events: FakeCopyEvents
    let sources: RtpSource[]

    beforeEach(() => {
      events = new FakeCopyEvents()
      sources = []
    })
    afterEach(() => {
      for (const source of sources) source.close()
    })

    async function copy (producerId?: string): Promise<RtpSource> {
      const source = await createRtpSource({ router, kind: 'audio', autoStart: false, producerId })
      sources.push(source)
      return source
    }

    function lose (source: RtpSource, reason: CopyCloseReason): void {
      events.emit({ type: 'copyclosed', producerId: source.producer.id, router, reason })
      source.close()
    }

    async function restore (producerId: string): Promise<void> {
      await copy(producerId)
      events.emit({ type: 'producerrestored', producerId, router })
    }

    /** A viewer consuming a copy, and the consumers the router gets with their transport (to look at them server-side). */
    async function viewerOf (source: RtpSource, options: Partial<ClientSignallingOptions> = {}): Promise<{ viewer: TestClient, recvId: string, consumerId: string, made: Array<{ consumer: ms.Consumer, transportId: string }> }> {
      const made: Array<{ consumer: ms.Consumer, transportId: string }> = []
      router.observer.on('newtransport', (t) => t.observer.on('newconsumer', (consumer) => made.push({ consumer, transportId: t.id })))
      const viewer = await connect(start({ copyEvents: events, ...options }))
      const recvId = await transport(viewer, 'recv')
      const { id } = await viewer.ok('consume', { transportId: recvId, producerId: source.producer.id, rtpCapabilities: router.rtpCapabilities })
      return { viewer, recvId, consumerId: id as string, made }
    }

    it('upstreamlost: consumerClosed says so; once the copy is back the consumer is made again, paused, on the same transport (consumerRestored)', async () => {
      const source = await copy()
      const producerId = source.producer.id
      const { viewer, recvId, consumerId, made } = await viewerOf(source)
      lose(source, 'upstreamlost')
      assert.deepEqual(await viewer.next('consumerClosed'), { consumerId, producerId, reason: 'upstreamlost' })

      await restore(producerId)
      const restored = await viewer.next('consumerRestored')
      assert.equal(restored.oldConsumerId, consumerId)
      assert.notEqual(restored.consumer.id, consumerId)
      assert.equal(restored.consumer.producerId, producerId)
      assert.equal(restored.consumer.kind, 'audio')
      assert.equal(restored.consumer.rtpParameters.codecs[0]?.mimeType, 'audio/opus')
      const again = made.find((m) => m.consumer.id === restored.consumer.id)
      assert.ok(again !== undefined, 'the restored consumer is in the router')
      assert.equal(again.transportId, recvId)
      assert.equal(again.consumer.paused, true)
      assert.equal((await router.dump()).mapConsumerIdProducerId.find((e) => e.key === again.consumer.id)?.value, producerId)

      // It is the client's like any other: resumed, and told when its producer closes for good.
      await viewer.ok('resumeConsumer', { consumerId: restored.consumer.id })
      assert.equal(again.consumer.paused, false)
      assertError(await viewer.request('resumeConsumer', { consumerId }), 'NotFound')
      lose(sources.at(-1)!, 'producerclosed')
      assert.deepEqual(await viewer.next('consumerClosed'), { consumerId: restored.consumer.id, producerId, reason: 'producerclosed' })
      events.emit({ type: 'producerrestored', producerId, router })
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.deepEqual(viewer.notifications, [], 'nothing is restored after producerclosed')
    })

    it('maps each copy close reason; only upstreamlost and moving wait for a restore', async () => {
      const expected: Record<CopyCloseReason, string> = {
        upstreamlost: 'upstreamlost', moving: 'moving', producerclosed: 'producerclosed', released: 'released', stopping: 'nodestopping'
      }
      const url = start({ copyEvents: events })
      for (const [reason, sent] of Object.entries(expected) as Array<[CopyCloseReason, string]>) {
        const source = await copy()
        const viewer = await connect(url)
        const recvId = await transport(viewer, 'recv')
        const { id } = await viewer.ok('consume', { transportId: recvId, producerId: source.producer.id, rtpCapabilities: router.rtpCapabilities })
        lose(source, reason)
        assert.deepEqual(await viewer.next('consumerClosed'), { consumerId: id, producerId: source.producer.id, reason: sent }, reason)
        await restore(source.producer.id)
        if (reason === 'upstreamlost' || reason === 'moving') {
          assert.equal((await viewer.next('consumerRestored')).oldConsumerId, id)
        } else {
          await new Promise((resolve) => setTimeout(resolve, 100))
          assert.deepEqual(viewer.notifications, [], `${reason}: nothing restored`)
        }
      }
    })

    it('a failed restore (restorefailed, or none within restoreTimeoutMs) closes the consumer for good: producerclosed', async () => {
      assert.throws(() => createClientSignalling({ server, router, webRtcServer, copyEvents: events, restoreTimeoutMs: 0 }), TypeError)
      const first = await copy()
      const { viewer, consumerId } = await viewerOf(first, { restoreTimeoutMs: 300 })
      lose(first, 'upstreamlost')
      await viewer.next('consumerClosed')
      events.emit({ type: 'restorefailed', producerId: first.producer.id, router })
      assert.deepEqual(await viewer.next('consumerClosed', 200), { consumerId, producerId: first.producer.id, reason: 'producerclosed' })

      const second = await copy()
      const recvId = await transport(viewer, 'recv')
      const { id } = await viewer.ok('consume', { transportId: recvId, producerId: second.producer.id, rtpCapabilities: router.rtpCapabilities })
      lose(second, 'upstreamlost')
      await viewer.next('consumerClosed')
      const lostAt = Date.now()
      assert.deepEqual(await viewer.next('consumerClosed', 2000), { consumerId: id, producerId: second.producer.id, reason: 'producerclosed' })
      assert.ok(Date.now() - lostAt >= 250, `gave up after ${Date.now() - lostAt} ms`)
      await restore(second.producer.id)
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.deepEqual(viewer.notifications, [], 'too late: not restored')
    })

    it('makes nothing for a client that left or closed the consumer while it waited', async () => {
      const source = await copy()
      const producerId = source.producer.id
      const url = start({ copyEvents: events })
      const clients = await Promise.all([0, 1, 2].map(async () => await connect(url)))
      const consumerIds: string[] = []
      for (const client of clients) {
        const recvId = await transport(client, 'recv')
        consumerIds.push((await client.ok('consume', { transportId: recvId, producerId, rtpCapabilities: router.rtpCapabilities })).id as string)
      }
      lose(source, 'upstreamlost')
      await Promise.all(clients.map(async (c) => await c.next('consumerClosed')))
      const [gone, closer, keeper] = clients as [TestClient, TestClient, TestClient]
      gone.close()
      await until(() => signalling?.connectionCount === 2)
      assert.deepEqual(await closer.ok('closeConsumer', { consumerId: consumerIds[1]! }), {})
      await restore(producerId)
      assert.equal((await keeper.next('consumerRestored')).oldConsumerId, consumerIds[2])
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal((await router.dump()).mapProducerIdConsumerIds.find((e) => e.key === producerId)?.values.length, 1, 'only the keeper\'s consumer')
      assert.deepEqual(closer.notifications, [])
      assertError(await closer.request('closeConsumer', { consumerId: consumerIds[1]! }), 'NotFound')
    })

    it('a consumer being made again when its client closes it, or leaves, is closed at once and not announced', async () => {
      const source = await copy()
      const producerId = source.producer.id
      // The transports' consume() waits for `gate`: the clients act while a restore is under way.
      let gate = Promise.resolve()
      router.observer.on('newtransport', (t) => {
        const consume = t.consume.bind(t)
        t.consume = async (options) => {
          await gate
          return await consume(options)
        }
      })
      const url = start({ copyEvents: events })
      const [closer, leaver] = await Promise.all([0, 1].map(async () => await connect(url))) as [TestClient, TestClient]
      const consumerIds: string[] = []
      for (const client of [closer, leaver]) {
        const recvId = await transport(client, 'recv')
        consumerIds.push((await client.ok('consume', { transportId: recvId, producerId, rtpCapabilities: router.rtpCapabilities })).id as string)
      }
      lose(source, 'upstreamlost')
      await Promise.all([closer, leaver].map(async (c) => await c.next('consumerClosed')))
      let open = (): void => {}
      gate = new Promise((resolve) => { open = resolve })
      await restore(producerId)
      assert.deepEqual(await closer.ok('closeConsumer', { consumerId: consumerIds[0]! }), {})
      leaver.close()
      await until(() => signalling?.connectionCount === 1)
      open()
      await new Promise((resolve) => setTimeout(resolve, 150))
      assert.equal((await router.dump()).mapProducerIdConsumerIds.find((e) => e.key === producerId)?.values.length ?? 0, 0, 'no consumer left behind')
      assert.deepEqual(closer.notifications, [])
    })

    it('a consumer waiting for its producer keeps its slot of maxConsumers, and the restored one takes it', async () => {
      const source = await copy()
      const other = await copy()
      const { viewer, recvId } = await viewerOf(source, { limits: { maxConsumers: 1 } })
      const consumeOther = async (): Promise<Reply> => await viewer.request('consume', { transportId: recvId, producerId: other.producer.id, rtpCapabilities: router.rtpCapabilities })
      lose(source, 'upstreamlost')
      await viewer.next('consumerClosed')
      assertError(await consumeOther(), 'LimitExceeded')
      await restore(source.producer.id)
      await viewer.next('consumerRestored')
      assertError(await consumeOther(), 'LimitExceeded')
    })

    it('nodeDraining goes to every client, and to those connecting later; close() stops listening to copy events', async () => {
      const url = start({ copyEvents: events })
      const before = await connect(url)
      assert.equal(events.listening, 1)
      assert.equal(signalling?.draining, false)
      signalling?.notifyDraining()
      signalling?.notifyDraining()
      assert.equal(signalling?.draining, true)
      assert.deepEqual(await before.next('nodeDraining'), {})
      const after = await connect(url)
      assert.deepEqual(await after.next('nodeDraining'), {})
      await after.ok('getRouterRtpCapabilities')
      assert.deepEqual([...before.notifications, ...after.notifications], [], 'told once')
      signalling?.close()
      assert.equal(events.listening, 0)
    })

    it('copyEventsOf() turns a node\'s copyclosed, producerrestored and restorefailed into copy events, and lets go', () => {
      const node = new EventEmitter()
      const seen: CopyEvent[] = []
      const stop = copyEventsOf(node as unknown as SwarmNode).onCopyEvents((e) => seen.push(e))
      node.emit('copyclosed', { producerId: 'p', router, reason: 'upstreamlost' })
      node.emit('producerrestored', { producerId: 'p', router, pipeProducer: {}, gapMs: 12 })
      node.emit('restorefailed', { producerId: 'p', router, error: new Error('gone') })
      assert.deepEqual(seen, [
        { type: 'copyclosed', producerId: 'p', router, reason: 'upstreamlost' },
        { type: 'producerrestored', producerId: 'p', router },
        { type: 'restorefailed', producerId: 'p', router }
      ])
      stop()
      assert.deepEqual(node.eventNames(), [])
    })
  })
})

// Real swarm nodes in this process: A (fan-out 1) → B → C, a client of C's signalling
// consuming A's producer. B stops (close-pipe: C's copy lost its upstream): C restores the
// copy from A and the client gets its consumer back.
describe('client signalling on a swarm node: a relay goes, the consumer comes back', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  let server: http.Server
  let signalling: ClientSignalling | undefined
  let client: TestClient | undefined
  let source: RtpSource | undefined

  afterEach(async () => {
    client?.close()
    signalling?.close()
    source?.close()
    await stopAll(nodes)
    nodes = []
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('consumerClosed upstreamlost, then consumerRestored with a consumer of the copy restored from A; producerclosed when A\'s producer closes', async () => {
    nodes = await startChain(3, { fanout: 1 })
    await waitConnected(nodes)
    const [a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 50 })
    const producerId = source.producer.id
    // B takes A's one downstream slot: C's copy has to come through B.
    await b.pipeToRouter({ producerId, router: await b.createRouter({ mediaCodecs }) })
    const cRouter = await c.createRouter({ mediaCodecs })
    server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    signalling = createClientSignalling({
      server,
      router: cRouter,
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      resolveProducer: async (id, r) => await c.pipeToRouter({ producerId: id, router: r }),
      copyEvents: copyEventsOf(c)
    })
    client = await TestClient.open(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
    const recvId = (await client.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    const consumerId = (await client.ok('consume', { transportId: recvId, producerId, rtpCapabilities: cRouter.rtpCapabilities })).id as string
    assert.equal(c.getDistribution(producerId)?.upstream, b.peerId)

    await b.stop()
    assert.deepEqual(await client.next('consumerClosed'), { consumerId, producerId, reason: 'upstreamlost' })
    const restored = await client.next('consumerRestored', 10_000)
    assert.equal(restored.oldConsumerId, consumerId)
    assert.equal(restored.consumer.producerId, producerId)
    assert.equal(restored.consumer.kind, 'video')
    assert.equal(c.getDistribution(producerId)?.upstream, a.peerId)
    await client.ok('resumeConsumer', { consumerId: restored.consumer.id })
    await client.ok('requestKeyFrame', { consumerId: restored.consumer.id })
    assert.equal((await cRouter.dump()).mapConsumerIdProducerId.find((e) => e.key === restored.consumer.id)?.value, producerId)

    source.close()
    assert.deepEqual(await client.next('consumerClosed'), { consumerId: restored.consumer.id, producerId, reason: 'producerclosed' })
    assert.deepEqual(client.notifications, [])
  })
})
