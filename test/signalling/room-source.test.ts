// The signalling's side of rooms and layers, with a real worker and router and a RoomSource
// the test drives (a swarm node is the real one: test/signalling/rooms.test.ts): what
// listProducers { room } answers and forwards, its bounds and errors, and the bad input of
// setConsumerPreferredLayers / setConsumerPriority.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createClientSignalling, createClientToken, MAX_ROOMS_PER_CONNECTION, RoomLimitError } from '../../src/index.js'
import type { ClientGrants, ClientSignalling, ClientSignallingOptions, ProducerInfo, RoomEvent, RoomSource, RoomWatch } from '../../src/index.js'
import { TestClient, assertError, until } from './test-client.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'
const producer = (id: string, room: string): ProducerInfo => ({ id, kind: 'audio', paused: false, appData: { room } })

/** A RoomSource the test drives: rooms with producers, events sent by hand, watches counted. */
class FakeRooms implements RoomSource {
  readonly rooms = new Map<string, ProducerInfo[]>()
  readonly listeners = new Map<string, Set<(event: RoomEvent) => void>>()
  refuse = false

  async watchRoom (room: string, listener: (event: RoomEvent) => void): Promise<RoomWatch> {
    if (this.refuse) throw new RoomLimitError(room, 16)
    let set = this.listeners.get(room)
    if (set === undefined) this.listeners.set(room, set = new Set())
    set.add(listener)
    return { producers: [...this.rooms.get(room) ?? []], stop: () => { set.delete(listener) } }
  }

  emit (event: RoomEvent): void {
    for (const listener of this.listeners.get(event.room) ?? []) listener(event)
  }

  watching (room: string): number {
    return this.listeners.get(room)?.size ?? 0
  }
}

describe('client signalling: listProducers { room } from a room source, and layer requests', function () {
  this.timeout(20_000)
  let worker: ms.Worker
  let router: ms.Router
  let server: http.Server
  let signalling: ClientSignalling | undefined
  let clients: TestClient[] = []
  let url: string

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' })
    router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] })
    server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(() => {
    for (const c of clients) c.close()
    clients = []
    signalling?.close()
    signalling = undefined
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    worker.close()
  })

  function start (options: Partial<ClientSignallingOptions> = {}): void {
    signalling = createClientSignalling({ server, router, listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }], authenticate: { secret: SECRET }, ...options })
  }

  async function client (grants: ClientGrants): Promise<TestClient> {
    const token = await createClientToken({ secret: SECRET, sub: 'c', expiresInSeconds: 60, grants })
    const c = await TestClient.open(`${url}/?token=${token}`)
    clients.push(c)
    return c
  }

  it('answers the source\'s producers and forwards newProducer / producerClosed of that room only; the watch stops when the client leaves', async () => {
    const rooms = new FakeRooms()
    rooms.rooms.set('r', [producer('p1', 'r')])
    start({ rooms })
    const c = await client({ consume: true, room: 'r' })
    assert.deepEqual((await c.ok('listProducers', { room: 'r' })).producers, [producer('p1', 'r')])
    rooms.emit({ type: 'newproducer', room: 'r', producer: producer('p2', 'r') })
    assert.deepEqual(await c.next('newProducer'), { room: 'r', producer: producer('p2', 'r') })
    // A second listing is the connection's own view, kept by the events (no second watch).
    assert.deepEqual((await c.ok('listProducers', { room: 'r' })).producers, [producer('p1', 'r'), producer('p2', 'r')])
    assert.equal(rooms.watching('r'), 1)
    rooms.emit({ type: 'producerclosed', room: 'r', producerId: 'p1' })
    assert.deepEqual(await c.next('producerClosed'), { room: 'r', producerId: 'p1' })
    // A close of a producer the connection never heard of is not passed on.
    rooms.emit({ type: 'producerclosed', room: 'r', producerId: 'unknown' })
    assert.deepEqual((await c.ok('listProducers', { room: 'r' })).producers, [producer('p2', 'r')])
    assert.equal(c.notifications.length, 0)
    // Without a room: this connection's own producers, as before.
    assert.deepEqual((await c.ok('listProducers')).producers, [])
    c.close()
    await until(() => rooms.watching('r') === 0)
  })

  it('a room grant lists its room only (Forbidden); a connection follows at most MAX_ROOMS_PER_CONNECTION rooms; a full node is LimitExceeded', async () => {
    const rooms = new FakeRooms()
    start({ rooms })
    const granted = await client({ consume: true, room: 'r' })
    assertError(await granted.request('listProducers', { room: 's' }), 'Forbidden')
    assert.equal(rooms.watching('s'), 0)
    const any = await client({ consume: true })
    for (let i = 0; i < MAX_ROOMS_PER_CONNECTION; i++) await any.ok('listProducers', { room: `room-${i}` })
    assertError(await any.request('listProducers', { room: 'one-more' }), 'LimitExceeded')
    await any.ok('listProducers', { room: 'room-0' })
    rooms.refuse = true
    const other = await client({ consume: true })
    assertError(await other.request('listProducers', { room: 'full' }), 'LimitExceeded')
    for (const bad of ['', 'x'.repeat(129), 7]) assertError(await other.request('listProducers', { room: bad }), 'BadRequest')
  })

  it('without a room source, listProducers { room } is Unavailable', async () => {
    start()
    const c = await client({ consume: true })
    assertError(await c.request('listProducers', { room: 'r' }), 'Unavailable')
  })

  it('setConsumerPreferredLayers / setConsumerPriority: bad fields are BadRequest, an unknown consumer NotFound, a publish-only token Forbidden', async () => {
    start()
    const c = await client({ consume: true })
    assertError(await c.request('setConsumerPreferredLayers', { consumerId: 'x', spatialLayer: -1 }), 'BadRequest')
    assertError(await c.request('setConsumerPreferredLayers', { consumerId: 'x', spatialLayer: 1, temporalLayer: 1.5 }), 'BadRequest')
    assertError(await c.request('setConsumerPreferredLayers', { consumerId: 'x' }), 'BadRequest')
    assertError(await c.request('setConsumerPriority', { consumerId: 'x', priority: 0 }), 'BadRequest')
    assertError(await c.request('setConsumerPriority', { consumerId: 'x', priority: 256 }), 'BadRequest')
    assertError(await c.request('setConsumerPreferredLayers', { consumerId: 'x', spatialLayer: 1 }), 'NotFound')
    assertError(await c.request('setConsumerPriority', { consumerId: 'x', priority: 2 }), 'NotFound')
    const publisher = await client({ publish: true })
    assertError(await publisher.request('setConsumerPriority', { consumerId: 'x', priority: 2 }), 'Forbidden')
  })
})
