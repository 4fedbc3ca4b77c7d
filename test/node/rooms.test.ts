// Unit tests of a node's rooms (src/node/rooms/rooms.ts) with stubbed parts: a registry fed
// by hand, a directory whose homes name whom the test says, peers that answer what the test
// says. What is announced, what a watch reports and when, how failures are borne.
import assert from 'node:assert/strict'
import { roomDirectoryId } from '../../src/directory/producer-directory.js'
import { ProducerRegistry } from '../../src/media/producer-registry.js'
import { MAX_ROOM_APPDATA_BYTES } from '../../src/protocol/messages.js'
import { Rooms } from '../../src/node/rooms/rooms.js'
import type { RoomEvent } from '../../src/node/rooms/rooms.js'
import type { RoomProducer } from '../../src/protocol/messages.js'
import type { types as ms } from 'mediasoup'

const POLL_MS = 40
const SELF = 'self'

/** Enough of a mediasoup Producer for the registry's events and the rooms. */
function fakeProducer (id: string, appData: Record<string, unknown>): ms.Producer {
  return { id, kind: 'audio', paused: false, appData } as unknown as ms.Producer
}

const remote = (id: string, room: string): RoomProducer => ({ id, kind: 'video', paused: false, appData: { room } })

async function until (condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('node rooms (stubbed directory and peers)', () => {
  let registry: ProducerRegistry
  let rooms: Rooms
  let calls: string[]
  let named: string[]
  /** What each peer answers: producers, or an Error to throw. */
  let answers: Map<string, RoomProducer[] | Error>
  let asked: string[]
  let onAsk: () => void = () => {}
  const router = {} as ms.Router

  beforeEach(() => {
    registry = new ProducerRegistry()
    calls = []
    named = []
    answers = new Map()
    asked = []
    rooms = new Rooms({
      localPeerId: SELF,
      registry,
      pollMs: POLL_MS,
      directory: {
        announce: async (id, kind) => { calls.push(`announce ${id} ${kind}`) },
        withdraw: async (id) => { calls.push(`withdraw ${id}`) },
        homeProviders: async () => named
      },
      ask: async (peerId) => {
        asked.push(peerId)
        onAsk()
        const answer = answers.get(peerId)
        if (answer instanceof Error) throw answer
        return answer ?? []
      }
    })
  })
  afterEach(() => rooms.stop())

  const add = (producer: ms.Producer, isCopy = false): void => { registry.emit('add', { producer, router, isCopy }) }
  const remove = (producer: ms.Producer, isCopy = false): void => { registry.emit('remove', { producer, router, isCopy }) }

  it('announces a room once when its first original appears and withdraws it when the last closes; copies and producers without a room do not count', async () => {
    const a = fakeProducer('a', { room: 'r' })
    const b = fakeProducer('b', { room: 'r' })
    add(a)
    add(b)
    add(fakeProducer('c', { room: 'r' }), true)
    add(fakeProducer('d', {}))
    add(fakeProducer('e', { room: 42 }))
    await until(() => calls.length === 1)
    assert.deepEqual(calls, [`announce ${roomDirectoryId('r')} room`])
    assert.deepEqual(rooms.localProducers('r').map((p) => p.id), ['a', 'b'])
    remove(a)
    remove(b)
    await until(() => calls.length === 2)
    assert.deepEqual(calls, [`announce ${roomDirectoryId('r')} room`, `withdraw ${roomDirectoryId('r')}`])
    assert.deepEqual(rooms.localProducers('r'), [])
  })

  it('a room left and joined again at once is announced only after its withdrawal has ended (no home drops the new record)', async () => {
    // A registry of its own: the beforeEach's rooms does not hear of these producers.
    const own = new ProducerRegistry()
    const log: string[] = []
    let endWithdrawal: () => void = () => {}
    const withdrawing = new Promise<void>((resolve) => { endWithdrawal = resolve })
    const slow = new Rooms({
      localPeerId: SELF,
      registry: own,
      pollMs: POLL_MS,
      directory: {
        announce: async () => { log.push('announce') },
        withdraw: async () => { log.push('withdraw begins'); await withdrawing; log.push('withdraw ends') },
        homeProviders: async () => []
      },
      ask: async () => []
    })
    try {
      const first = fakeProducer('first', { room: 'r' })
      own.emit('add', { producer: first, router, isCopy: false })
      own.emit('remove', { producer: first, router, isCopy: false })
      own.emit('add', { producer: fakeProducer('again', { room: 'r' }), router, isCopy: false })
      await until(() => log.includes('withdraw begins'))
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.deepEqual(log, ['announce', 'withdraw begins'], 'the second announcement waits')
      endWithdrawal()
      await until(() => log.length === 4)
      assert.deepEqual(log, ['announce', 'withdraw begins', 'withdraw ends', 'announce'])
    } finally {
      slow.stop()
    }
  })

  it('a room\'s directory id is a valid wire id, the same for the same name and different for another', () => {
    assert.match(roomDirectoryId('standup'), /^room\.[0-9a-f]{64}$/)
    assert.equal(roomDirectoryId('standup'), roomDirectoryId('standup'))
    assert.notEqual(roomDirectoryId('standup'), roomDirectoryId('Standup'))
    assert.match(roomDirectoryId('ünïcode / spaces?'), /^room\.[0-9a-f]{64}$/)
  })

  it('a listed producer\'s appData is whole up to MAX_ROOM_APPDATA_BYTES, else cut to its room', () => {
    add(fakeProducer('small', { room: 'r', label: 'cam' }))
    add(fakeProducer('big', { room: 'r', blob: 'x'.repeat(MAX_ROOM_APPDATA_BYTES) }))
    const listed = new Map(rooms.localProducers('r').map((p) => [p.id, p.appData]))
    assert.deepEqual(listed.get('small'), { room: 'r', label: 'cam' })
    assert.deepEqual(listed.get('big'), { room: 'r' })
  })

  it('a watch starts with local and remote producers, then reports remote changes at the next poll and local ones at once', async () => {
    add(fakeProducer('local1', { room: 'r' }))
    named = ['peerA', SELF]
    answers.set('peerA', [remote('remote1', 'r'), remote('other-room', 's')])
    const events: RoomEvent[] = []
    const watch = await rooms.watch('r', (e) => events.push(e))
    assert.deepEqual(watch.producers.map((p) => p.id).sort(), ['local1', 'remote1'], 'an entry of another room is dropped')
    assert.ok(!asked.includes(SELF), 'a node does not ask itself')

    answers.set('peerA', [remote('remote1', 'r'), remote('remote2', 'r')])
    await until(() => events.length > 0)
    assert.deepEqual(events, [{ type: 'newproducer', room: 'r', producer: remote('remote2', 'r') }])
    events.length = 0

    const local2 = fakeProducer('local2', { room: 'r' })
    add(local2)
    assert.equal(events.length, 1, 'a local producer is reported without waiting for a poll')
    assert.equal(events[0]!.type, 'newproducer')
    remove(local2)
    assert.deepEqual(events[1], { type: 'producerclosed', room: 'r', producerId: 'local2' })
    events.length = 0

    answers.set('peerA', [remote('remote2', 'r')])
    await until(() => events.length > 0)
    assert.deepEqual(events, [{ type: 'producerclosed', room: 'r', producerId: 'remote1' }])
    watch.stop()
  })

  it('a node that listed producers is asked again when no home names it; one missed answer keeps its producers, two close them', async () => {
    named = ['peerA']
    answers.set('peerA', [remote('p', 'r')])
    const events: RoomEvent[] = []
    const watch = await rooms.watch('r', (e) => events.push(e))
    assert.deepEqual(watch.producers.map((p) => p.id), ['p'])
    named = []
    const before = asked.length
    await until(() => asked.length >= before + 2)
    assert.deepEqual(events, [], 'still listed although no home names peerA')

    answers.set('peerA', new Error('timeout'))
    const failing = asked.length
    // Each ask of a poll comes after the previous poll ended: what had been reported by then.
    const reportedAtAsk: number[] = []
    onAsk = () => reportedAtAsk.push(events.length)
    await until(() => events.length > 0)
    onAsk = () => {}
    assert.ok(asked.length >= failing + 2)
    assert.equal(reportedAtAsk[1], 0, 'nothing reported after the first missed poll')
    assert.deepEqual(events, [{ type: 'producerclosed', room: 'r', producerId: 'p' }])
    watch.stop()
  })

  it('a watch that waited for the first poll while the other watchers stopped starts a poll of its own', async () => {
    named = ['peerA']
    answers.set('peerA', [remote('p', 'r')])
    const events: RoomEvent[] = []
    const first = await rooms.watch('r', () => {})
    // The second waits for the (finished) first poll; the first stops meanwhile, ending that poll.
    const second = rooms.watch('r', (e) => events.push(e))
    first.stop()
    const watch = await second
    assert.deepEqual(watch.producers.map((p) => p.id), ['p'])
    answers.set('peerA', [remote('p', 'r'), remote('q', 'r')])
    await until(() => events.length > 0)
    assert.deepEqual(events, [{ type: 'newproducer', room: 'r', producer: remote('q', 'r') }])
    watch.stop()
  })

  it('watches of one room share one poll, which stops with the last watcher', async () => {
    named = ['peerA']
    answers.set('peerA', [remote('p', 'r')])
    const one = await rooms.watch('r', () => {})
    const two = await rooms.watch('r', () => {})
    assert.deepEqual(two.producers.map((p) => p.id), ['p'])
    const perPoll = asked.length
    assert.equal(perPoll, 1, 'the second watch reused the first one\'s poll')
    one.stop()
    await until(() => asked.length >= perPoll + 2)
    two.stop()
    two.stop()
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const stopped = asked.length
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 3))
    assert.equal(asked.length, stopped, 'no poll after the last watcher stopped')
  })
})
