// Property tests of the `room-producers` request and its `room-producers-ok` answer
// (docs/protocol.md#rooms): valid messages survive encode → decode unchanged; whatever
// else a peer sends decodes to a ProtocolError (bad-message for the wrong shape, never
// another exception); the bounds (room length, producers per answer) are enforced.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ProtocolError } from '../../src/errors.js'
import {
  decodeRequestFrame, decodeResponseFrame, encodeFrame, MAX_MESSAGE_BYTES, MAX_ROOM_APPDATA_BYTES, MAX_ROOM_LENGTH, MAX_ROOM_PRODUCERS
} from '../../src/protocol/messages.js'
import type { RoomProducer, RoomProducersOk, RoomProducersRequest } from '../../src/protocol/messages.js'

const RUNS = 1000
const utf8 = new TextEncoder()
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T
const bytes = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value))

const room = fc.string({ unit: 'grapheme', minLength: 1, maxLength: MAX_ROOM_LENGTH }).filter((r) => r.length >= 1 && r.length <= MAX_ROOM_LENGTH)
const id = fc.stringMatching(/^[\w.:-]{1,128}$/)
/** An appData as a node sends it: small enough (MAX_ROOM_APPDATA_BYTES) that 64 fit in a frame. */
const appData = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
  .filter((d) => Buffer.byteLength(JSON.stringify(d)) <= MAX_ROOM_APPDATA_BYTES - 200)
const roomProducer: fc.Arbitrary<RoomProducer> = fc.record({
  id, kind: fc.constantFrom('audio' as const, 'video' as const), paused: fc.boolean(), appData
})
const request: fc.Arbitrary<RoomProducersRequest> = fc.record({ type: fc.constant('room-producers' as const), room })
const answer: fc.Arbitrary<RoomProducersOk> = fc.record({
  type: fc.constant('room-producers-ok' as const), room, producers: fc.array(roomProducer, { maxLength: MAX_ROOM_PRODUCERS })
})
const frameId = fc.integer({ min: 0, max: 2 ** 31 - 1 })

/** A valid message with one field replaced, removed, or set to a value of another type. */
function mutated<T extends object> (valid: fc.Arbitrary<T>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(valid, fc.nat(), fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }))).map(([message, n, value]) => {
    const copy = plain(message) as Record<string, unknown>
    const keys = Object.keys(copy).filter((k) => k !== 'type')
    const key = keys[n % keys.length]!
    if (key === 'producers' && Array.isArray(copy.producers) && copy.producers.length > 0 && n % 2 === 0) {
      // One producer of the list broken instead of the list itself.
      const producers = copy.producers as Array<Record<string, unknown>>
      const p = producers[n % producers.length]!
      const field = ['id', 'kind', 'paused', 'appData'][n % 4]!
      if (value === undefined) delete p[field]
      else p[field] = value
    } else if (value === undefined) {
      delete copy[key]
    } else {
      copy[key] = value
    }
    return copy
  })
}

describe('protocol: room-producers', () => {
  it('a valid request survives encodeFrame → decodeRequestFrame', () => {
    fc.assert(fc.property(frameId, request, (fid, req) => {
      assert.deepEqual(decodeRequestFrame(encodeFrame(fid, req)), { id: fid, request: plain(req) })
    }), { numRuns: RUNS })
  })

  it('a valid answer (up to MAX_ROOM_PRODUCERS producers) survives encodeFrame → decodeResponseFrame, and fits in a frame', () => {
    fc.assert(fc.property(frameId, answer, (fid, res) => {
      const frame = encodeFrame(fid, res)
      assert.ok(frame.byteLength <= MAX_MESSAGE_BYTES, `${frame.byteLength} bytes`)
      assert.deepEqual(decodeResponseFrame(frame), { id: fid, response: plain(res) })
    }), { numRuns: RUNS / 4 })
  })

  it('a request or answer with one field broken decodes to ProtocolError bad-message (with its id), never another error', () => {
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(frameId, mutated(request), mutated(answer), (fid, req, res) => {
      const r = decodeRequestFrame(bytes({ id: fid, ...req }))
      if ('error' in r) {
        assert.ok(r.error instanceof ProtocolError && r.error.code === 'bad-message', r.error.message)
        assert.equal(r.id, fid)
      }
      const a = decodeResponseFrame(bytes({ id: fid, ...res }))
      if ('error' in a) assert.ok(a.error instanceof ProtocolError && a.error.code === 'bad-message', a.error.message)
      const key = `${'error' in r ? 'bad' : 'valid'} request, ${'error' in a ? 'bad' : 'valid'} answer`
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    }), { numRuns: RUNS })
    // Mutations reached the validators (not only values that happen to be valid again).
    assert.ok((outcomes.get('bad request, bad answer') ?? 0) > RUNS / 4, JSON.stringify([...outcomes]))
  })

  const invalid: Array<[string, unknown, 'request' | 'answer']> = [
    ['an empty room', { type: 'room-producers', room: '' }, 'request'],
    [`a room of ${MAX_ROOM_LENGTH + 1} characters`, { type: 'room-producers', room: 'r'.repeat(MAX_ROOM_LENGTH + 1) }, 'request'],
    ['a room that is not a string', { type: 'room-producers', room: 7 }, 'request'],
    ['no room', { type: 'room-producers' }, 'request'],
    [`${MAX_ROOM_PRODUCERS + 1} producers`, { type: 'room-producers-ok', room: 'r', producers: Array.from({ length: MAX_ROOM_PRODUCERS + 1 }, (_, i) => ({ id: `p${i}`, kind: 'audio', paused: false, appData: {} })) }, 'answer'],
    ['a producer of another kind', { type: 'room-producers-ok', room: 'r', producers: [{ id: 'p', kind: 'data', paused: false, appData: {} }] }, 'answer'],
    ['a producer id with a slash', { type: 'room-producers-ok', room: 'r', producers: [{ id: 'a/b', kind: 'audio', paused: false, appData: {} }] }, 'answer'],
    ['an appData that is an array', { type: 'room-producers-ok', room: 'r', producers: [{ id: 'p', kind: 'audio', paused: false, appData: [] }] }, 'answer'],
    ['producers that are not a list', { type: 'room-producers-ok', room: 'r', producers: { p: 1 } }, 'answer']
  ]
  for (const [what, message, side] of invalid) {
    it(`${side === 'request' ? 'a request' : 'an answer'} with ${what} is bad-message`, () => {
      const decoded = side === 'request' ? decodeRequestFrame(bytes({ id: 1, ...message as object })) : decodeResponseFrame(bytes({ id: 1, ...message as object }))
      assert.ok('error' in decoded && decoded.error.code === 'bad-message')
    })
  }
})
