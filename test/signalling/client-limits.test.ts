// Limits of the client signalling: the pure parts (token bucket, addresses, admission) with
// a fake clock, then each limit on a real signalling with a real worker: past it, a named
// error to the client (reply or close code) and a count by reason; legitimate work goes on.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import {
  CLOSE_FORBIDDEN_ORIGIN, CLOSE_TOO_MANY_CONNECTIONS, REFUSAL_REASONS, createClientSignalling, createClientToken
} from '../../src/signalling/index.js'
import type { ClientSignalling, ClientSignallingOptions, RefusalReason } from '../../src/signalling/index.js'
import { TokenBucket } from '../../src/protocol/token-bucket.js'
import { SignallingAdmission, addressKey, clientAddress, DEFAULT_LIMITS } from '../../src/signalling/client-limits.js'
import { createRtpSource, mediaCodecs } from '../harness/index.js'
import { TestClient, assertError, until } from './test-client.js'

/** An upgrade request as the admission sees it. */
function request (remoteAddress: string, headers: http.IncomingHttpHeaders = {}): http.IncomingMessage {
  return { socket: { remoteAddress }, headers } as unknown as http.IncomingMessage
}

describe('client signalling limits', function () {
  this.timeout(20_000)

  describe('token bucket, addresses, admission (unit)', () => {
    it('the token bucket allows a burst, then the refill rate', () => {
      let now = 0
      const bucket = new TokenBucket(10, 5, () => now)
      assert.deepEqual(Array.from({ length: 7 }, () => bucket.take()), [true, true, true, true, true, false, false])
      now += 100
      assert.deepEqual([bucket.take(), bucket.take()], [true, false], 'one token per 100 ms at 10/s')
      now += 10_000
      assert.equal(Array.from({ length: 10 }, () => bucket.take()).filter(Boolean).length, 5, 'never more than the burst saved')
    })

    it('counts IPv4 and IPv4-mapped IPv6 as one address, IPv6 by /64', () => {
      const cases: Array<[string | undefined, string]> = [
        ['10.0.0.7', '10.0.0.7'],
        ['::ffff:10.0.0.7', '10.0.0.7'],
        ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
        ['2001:db8:1:2:bbbb:cccc:dddd:eeee', '2001:db8:1:2::/64'],
        ['2001:db8::1', '2001:db8:0:0::/64'],
        ['::1', '0:0:0:0::/64'],
        [undefined, 'unknown']
      ]
      for (const [address, key] of cases) assert.equal(addressKey(address), key, String(address))
    })

    it('believes X-Forwarded-For (its last entry) from a trusted proxy only', () => {
      const trusted = new Set(['127.0.0.1'])
      assert.equal(clientAddress(request('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' }), trusted), '203.0.113.9')
      assert.equal(clientAddress(request('::ffff:127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), trusted), '203.0.113.9')
      assert.equal(clientAddress(request('198.51.100.1', { 'x-forwarded-for': '203.0.113.9' }), trusted), '198.51.100.1')
      assert.equal(clientAddress(request('127.0.0.1', { 'x-forwarded-for': 'garbage' }), trusted), '127.0.0.1')
      assert.equal(clientAddress(request('127.0.0.1'), trusted), '127.0.0.1')
    })

    it('admits within maxConnections and maxConnectionsPerIp, counts refusals by reason, frees a slot on release', () => {
      const admission = new SignallingAdmission({ ...DEFAULT_LIMITS, maxConnections: 3, maxConnectionsPerIp: 2 }, ['https://app.example'])
      const from = (ip: string, origin = 'https://app.example'): ReturnType<SignallingAdmission['admit']> => admission.admit(request(ip, { origin }))
      const first = from('10.0.0.1')
      assert.ok(first.ok)
      assert.ok(from('10.0.0.1').ok)
      assert.deepEqual(from('10.0.0.1'), { ok: false, reason: 'connections-per-ip', code: CLOSE_TOO_MANY_CONNECTIONS, message: 'too many connections from your address (2)' })
      assert.ok(from('10.0.0.2').ok)
      assert.equal((from('10.0.0.3') as { reason: string }).reason, 'connections')
      assert.equal((from('10.0.0.3', 'https://evil.example') as { code: number }).code, CLOSE_FORBIDDEN_ORIGIN)
      first.release()
      first.release()
      assert.ok(from('10.0.0.1').ok, 'released once, however often called')
      assert.deepEqual(Object.entries(admission.refusals).filter(([, n]) => n > 0), [['origin', 1], ['connections', 1], ['connections-per-ip', 1]])
      assert.deepEqual(Object.keys(admission.refusals), [...REFUSAL_REASONS])
    })

    it('refuses bad limits, origins and proxies with TypeError', () => {
      assert.throws(() => new SignallingAdmission({ ...DEFAULT_LIMITS, requestsPerSecond: 0 }, undefined), TypeError)
      assert.throws(() => new SignallingAdmission({ ...DEFAULT_LIMITS, maxLookups: Number.NaN }, undefined), TypeError)
      assert.throws(() => new SignallingAdmission(DEFAULT_LIMITS, ['']), TypeError)
      assert.throws(() => new SignallingAdmission(DEFAULT_LIMITS, undefined, ['proxy.local']), TypeError)
    })
  })

  describe('on a real signalling', () => {
    let worker: ms.Worker
    let router: ms.Router
    let server: http.Server
    let signalling: ClientSignalling | undefined
    let clients: TestClient[]

    before(async () => { worker = await mediasoup.createWorker({ logLevel: 'warn' }) })
    after(() => worker.close())
    beforeEach(async () => {
      router = await worker.createRouter({ mediaCodecs })
      clients = []
      server = http.createServer()
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
      signalling = createClientSignalling({ server, router, listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }], ...options })
      return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`
    }

    async function connect (url: string, options: ConstructorParameters<typeof import('ws').WebSocket>[2] = {}): Promise<TestClient> {
      const client = await TestClient.open(url, options)
      clients.push(client)
      return client
    }

    async function refusedWith (url: string, options: ConstructorParameters<typeof import('ws').WebSocket>[2] = {}): Promise<{ code: number, reason: string }> {
      try {
        await connect(url, options)
      } catch (err) {
        const { code, reason } = err as { code: number, reason: string }
        return { code, reason }
      }
      throw new Error('connection accepted')
    }

    const refusals = (): Partial<Record<RefusalReason, number>> =>
      Object.fromEntries(Object.entries(signalling?.refusals ?? {}).filter(([, n]) => n > 0))

    it('request rate: past the burst, RateLimited replies with the request ids (junk counts too); after a pause, served again', async () => {
      const client = await connect(start({ limits: { requestsPerSecond: 5, requestBurst: 10 } }))
      await client.raw('junk')
      const replies = await Promise.all(Array.from({ length: 30 }, async () => await client.request('getRouterRtpCapabilities', {})))
      assert.equal(replies.filter((r) => r.ok).length, 9)
      for (const reply of replies.slice(9)) assert.equal(assertError(reply, 'RateLimited').id === null, false)
      assert.deepEqual(refusals(), { 'request-rate': 21 })
      await new Promise((resolve) => setTimeout(resolve, 450))
      await client.ok('getRouterRtpCapabilities')
    })

    it('connections per address (loopback 127.0.0.x) and in all: closed with 4429, a slot freed by a close is taken again', async () => {
      const url = start({ limits: { maxConnectionsPerIp: 2, maxConnections: 3 }, trustedProxies: [] })
      const first = await connect(url)
      await connect(url)
      assert.deepEqual(await refusedWith(url), { code: CLOSE_TOO_MANY_CONNECTIONS, reason: 'too many connections from your address (2)' })
      await connect(url, { localAddress: '127.0.0.2' })
      assert.deepEqual(await refusedWith(url, { localAddress: '127.0.0.3' }), { code: CLOSE_TOO_MANY_CONNECTIONS, reason: 'too many connections (3)' })
      first.close()
      await until(() => signalling?.connectionCount === 2)
      const again = await connect(url)
      await again.ok('getRouterRtpCapabilities')
      assert.deepEqual(refusals(), { connections: 1, 'connections-per-ip': 1 })
    })

    it('behind a proxy on the same host, connections count against the X-Forwarded-For address', async () => {
      const url = start({ limits: { maxConnectionsPerIp: 1 } })
      await connect(url, { headers: { 'X-Forwarded-For': '203.0.113.1' } })
      await connect(url, { headers: { 'X-Forwarded-For': '203.0.113.2' } })
      assert.equal((await refusedWith(url, { headers: { 'X-Forwarded-For': '203.0.113.1' } })).code, CLOSE_TOO_MANY_CONNECTIONS)
    })

    it('allowed origins: another Origin, or none, is closed with 4403', async () => {
      const url = start({ allowedOrigins: ['https://app.example'] })
      await (await connect(url, { origin: 'https://app.example' })).ok('getRouterRtpCapabilities')
      assert.deepEqual(await refusedWith(url, { origin: 'https://evil.example' }), { code: CLOSE_FORBIDDEN_ORIGIN, reason: 'origin not allowed: https://evil.example' })
      assert.deepEqual(await refusedWith(url), { code: CLOSE_FORBIDDEN_ORIGIN, reason: 'origin not allowed: (none)' })
      assert.deepEqual(refusals(), { origin: 2 })
    })

    it('lookups: past the connection\'s, the address\'s (closed connections\' included) and the node\'s limits LimitExceeded; a producer already in the router is still consumed', async () => {
      const asked: string[] = []
      let release = (): void => {}
      const released = new Promise<void>((resolve) => { release = resolve })
      const url = start({
        limits: { maxLookupsPerConnection: 2, maxLookupsPerIp: 3, maxLookups: 4 },
        resolveProducer: async (producerId) => {
          if (producerId === local.producer.id) return local.producer
          asked.push(producerId)
          await released
          throw Object.assign(new Error('nobody has it'), { name: 'ProducerNotFoundError' })
        }
      })
      const local = await createRtpSource({ router, kind: 'audio', autoStart: false })
      try {
        const [one, two, other] = [await connect(url), await connect(url), await connect(url, { localAddress: '127.0.0.2' })]
        const recv = async (c: TestClient): Promise<string> => (await c.ok('createWebRtcTransport', { direction: 'recv' })).id as string
        const [r1, r2, r3] = [await recv(one), await recv(two), await recv(other)]
        const consume = async (c: TestClient, transportId: string, producerId: string): Promise<ReturnType<TestClient['request']>> =>
          await c.request('consume', { transportId, producerId, rtpCapabilities: router.rtpCapabilities })
        // Never answered: their connection closes below.
        void consume(one, r1, 'x1')
        void consume(one, r1, 'x2')
        assertError(await consume(one, r1, 'x3'), 'LimitExceeded') // the connection's 2
        const waiting = [consume(two, r2, 'x4')]
        await until(() => asked.length === 3)
        assertError(await consume(two, r2, 'x5'), 'LimitExceeded') // the address's 3
        waiting.push(consume(other, r3, 'x6'))
        await until(() => asked.length === 4)
        assertError(await consume(other, r3, 'x7'), 'LimitExceeded') // the node's 4
        const ok = await consume(two, r2, local.producer.id)
        assert.equal(ok.ok, true, JSON.stringify(ok))
        // Reconnecting does not free the address's slots: the lookups run on.
        one.close()
        await until(() => signalling?.connectionCount === 2)
        const again = await connect(url)
        assertError(await consume(again, await recv(again), 'x8'), 'LimitExceeded')
        assert.deepEqual(refusals(), { 'lookups-per-connection': 1, 'lookups-per-ip': 2, lookups: 1 })
        release()
        for (const reply of await Promise.all(waiting)) assertError(reply, 'NotFound')
        assertError(await consume(two, r2, 'x9'), 'NotFound')
        assert.deepEqual(asked, ['x1', 'x2', 'x4', 'x6', 'x9'], 'the slots were freed')
      } finally {
        local.close()
      }
    })

    it('token subjects: one `sub` holds maxConnectionsPerSubject connections and maxLookupsPerSubject lookups from any number of addresses; another sub is not held back', async () => {
      const secret = 'a-test-secret-of-at-least-32-characters'
      let release = (): void => {}
      const released = new Promise<void>((resolve) => { release = resolve })
      const url = start({
        authenticate: { secret },
        limits: { maxConnectionsPerSubject: 3, maxLookupsPerSubject: 2 },
        resolveProducer: async () => {
          await released
          throw Object.assign(new Error('nobody has it'), { name: 'ProducerNotFoundError' })
        }
      })
      const token = async (sub: string): Promise<string> => await createClientToken({ secret, sub, grants: { consume: true }, expiresInSeconds: 60 })
      const mallory = await token('mallory')
      // Three addresses, one subject: each address is far below its own limits.
      const held = [await connect(`${url}?token=${mallory}`, { localAddress: '127.0.0.2' }), await connect(`${url}?token=${mallory}`, { localAddress: '127.0.0.3' }), await connect(`${url}?token=${mallory}`, { localAddress: '127.0.0.4' })]
      const recv = async (c: TestClient): Promise<string> => (await c.ok('createWebRtcTransport', { direction: 'recv' })).id as string
      // Refused once its token is verified (right after the WebSocket opened).
      assert.deepEqual(await refusedWith(`${url}?token=${mallory}`, { localAddress: '127.0.0.5' }), { code: CLOSE_TOO_MANY_CONNECTIONS, reason: "too many connections with your token's subject (3)" })
      const consume = async (c: TestClient, transportId: string, producerId: string): Promise<ReturnType<TestClient['request']>> =>
        await c.request('consume', { transportId, producerId, rtpCapabilities: router.rtpCapabilities })
      const waiting = [consume(held[0]!, await recv(held[0]!), 'x1'), consume(held[1]!, await recv(held[1]!), 'x2')]
      await new Promise((resolve) => setTimeout(resolve, 50))
      assertError(await consume(held[2]!, await recv(held[2]!), 'x3'), 'LimitExceeded')
      // Someone else, from one of mallory's addresses even, is not held back by mallory's subject.
      const alice = await connect(`${url}?token=${await token('alice')}`, { localAddress: '127.0.0.2' })
      const aliceLookup = consume(alice, await recv(alice), 'x4')
      // A closed connection frees its subject's slot.
      held[2]!.close()
      await until(() => signalling?.connectionCount === 3)
      await (await connect(`${url}?token=${mallory}`, { localAddress: '127.0.0.6' })).ok('getRouterRtpCapabilities')
      assert.deepEqual(refusals(), { 'connections-per-subject': 1, 'lookups-per-subject': 1 })
      release()
      for (const reply of await Promise.all([...waiting, aliceLookup])) assertError(reply, 'NotFound')
    })

    it('transports and consumers of closed connections are closed: the router is back to what it had', async () => {
      const url = start({ limits: { maxConnectionsPerIp: 100 } })
      const source = await createRtpSource({ router, kind: 'audio', autoStart: false })
      try {
        const baseline = (await router.dump()).transportIds.length
        const many = await Promise.all(Array.from({ length: 40 }, async () => await connect(url)))
        await Promise.all(many.map(async (c) => {
          const ids = await Promise.all(Array.from({ length: 4 }, async () => (await c.ok('createWebRtcTransport', { direction: 'recv' })).id as string))
          await Promise.all(ids.map(async (transportId) => await c.ok('consume', { transportId, producerId: source.producer.id, rtpCapabilities: router.rtpCapabilities })))
        }))
        const during = await router.dump()
        assert.equal(during.transportIds.length, baseline + 160)
        assert.equal(during.mapProducerIdConsumerIds.find((e) => e.key === source.producer.id)?.values.length, 160)
        for (const c of many) c.close()
        await until(async () => (await router.dump()).transportIds.length === baseline, 10_000)
        assert.deepEqual((await router.dump()).mapProducerIdConsumerIds.find((e) => e.key === source.producer.id)?.values, [])
        await until(() => signalling?.connectionCount === 0)
      } finally {
        source.close()
      }
    })

    it('a client that sends requests but never reads the replies is disconnected once 4 MiB of them wait', async () => {
      const unlimited = { requestsPerSecond: 1e9, requestBurst: 1e9, maxPendingRequests: 1e9 }
      start({ limits: unlimited })
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1')
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      socket.pause()
      socket.on('error', () => {})
      await until(() => signalling?.connectionCount === 1)
      // Client frames are masked; a zero mask leaves the payload as is.
      const payload = Buffer.from(JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities' }))
      const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload])
      const replyBytes = JSON.stringify(router.rtpCapabilities).length
      // Enough replies to fill both sockets' kernel buffers and then 4 MiB more.
      const count = Math.ceil(40 * 1024 * 1024 / replyBytes)
      for (let sent = 0; sent < count && signalling?.connectionCount === 1; sent += 500) {
        socket.write(Buffer.concat(Array.from({ length: 500 }, () => frame)))
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      await until(() => signalling?.connectionCount === 0, 10_000)
      socket.destroy()
    })

    it('refusals of the per-connection object limits are counted by reason', async () => {
      const client = await connect(start({ limits: { maxTransports: 1, maxPendingRequests: 1 } }))
      await client.ok('createWebRtcTransport', { direction: 'recv' })
      assertError(await client.request('createWebRtcTransport', { direction: 'recv' }), 'LimitExceeded')
      const both = await Promise.all([client.request('getRouterRtpCapabilities', {}), client.request('getRouterRtpCapabilities', {})])
      assert.deepEqual(both.map((r) => r.ok).sort(), [false, true])
      assert.deepEqual(refusals(), { transports: 1, 'pending-requests': 1 })
    })
  })
})
