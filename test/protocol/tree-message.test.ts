// The `tree` request and its `tree-ok` answer (docs/protocol.md): valid messages survive a
// round trip (property test), invalid ones from a table are refused with ProtocolError
// `bad-message`, and hostile variants of them never make the decoders throw anything else.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ProtocolError } from '../../src/errors.js'
import {
  decodeRequestFrame, decodeResponse, decodeResponseFrame, encode, encodeFrame, MAX_REQUEST_ID, MAX_ROUTE, MAX_TREE_DOWNSTREAM
} from '../../src/protocol/messages.js'
import type { TreeOk, TreeRequest } from '../../src/protocol/messages.js'

const RUNS = 1000
const utf8 = new TextEncoder()
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

const id = fc.stringMatching(/^[\w.:-]{1,128}$/)
const shortId = fc.stringMatching(/^[\w.:-]{1,40}$/)
const count = fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true })).filter((n) => !Object.is(n, -0))
const fraction = fc.double({ min: 0, max: 1, noNaN: true }).filter((n) => !Object.is(n, -0))
const peerInfo = fc.record({ peerId: shortId, multiaddrs: fc.array(fc.stringMatching(/^\/[\w./:-]{0,60}$/), { maxLength: 8 }) })
const figures = fc.record({ peerId: shortId, direction: fc.constantFrom('in' as const, 'out' as const), bitrateBps: count, packetLossFraction: fraction })

const treeRequest: fc.Arbitrary<TreeRequest> = fc.record({ type: fc.constant('tree' as const), producerId: id })
const treeOk: fc.Arbitrary<TreeOk> = fc.record({
  type: fc.constant('tree-ok' as const),
  producerId: id,
  name: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  has: fc.boolean(),
  route: fc.array(shortId, { maxLength: MAX_ROUTE }),
  downstream: fc.array(peerInfo, { maxLength: MAX_TREE_DOWNSTREAM }),
  pipes: fc.array(figures, { maxLength: MAX_TREE_DOWNSTREAM + 1 }),
  load: count,
  capacity: count
}, { requiredKeys: ['type', 'producerId', 'has', 'route', 'downstream', 'load', 'capacity'] })
const frameId = fc.integer({ min: 0, max: MAX_REQUEST_ID })

const FIELDS = ['producerId', 'name', 'has', 'route', 'downstream', 'pipes', 'load', 'capacity', 'peerId', 'direction', 'bitrateBps', 'packetLossFraction', '__proto__']
const anyJson = fc.jsonValue({ maxDepth: 3 })

/** A valid message with one field (at the top, or in a list item) replaced by any JSON value or removed. */
function mutated (valid: fc.Arbitrary<object>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), fc.constantFrom(...FIELDS), fc.option(anyJson, { nil: undefined })).map(([message, n, field, value]) => {
    const copy = plain(message) as Record<string, unknown>
    const lists = [copy.downstream, copy.pipes].filter((l): l is Array<Record<string, unknown>> => Array.isArray(l) && l.length > 0)
    const target = n % 2 === 0 || lists.length === 0 ? copy : lists[n % lists.length]![n % lists[n % lists.length]!.length]!
    if (value === undefined) delete target[field]
    else target[field] = value
    return copy
  })
}

const valid = { type: 'tree-ok', producerId: 'p1', name: 'node-a', has: true, route: ['A'], downstream: [{ peerId: 'B', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] }], pipes: [{ peerId: 'B', direction: 'out', bitrateBps: 1000, packetLossFraction: 0.01 }], load: 4, capacity: 2000 }

describe('protocol: tree and tree-ok', function () {
  this.timeout(60_000)

  it('every valid tree request survives encodeFrame() → decodeRequestFrame()', () => {
    fc.assert(fc.property(frameId, treeRequest, (i, req) => {
      assert.deepEqual(decodeRequestFrame(encodeFrame(i, req)), { id: i, request: plain(req) })
    }), { numRuns: RUNS })
  })

  it('every valid tree-ok survives encodeFrame() → decodeResponseFrame() and encode() → decodeResponse()', () => {
    fc.assert(fc.property(frameId, treeOk, (i, res) => {
      assert.deepEqual(decodeResponseFrame(encodeFrame(i, res)), { id: i, response: plain(res) })
      assert.deepEqual(decodeResponse(encode(res)), plain(res))
    }), { numRuns: RUNS })
  })

  const invalid: Array<[string, Record<string, unknown>]> = [
    ['a name with a space', { ...valid, name: 'node a' }],
    ['a name of 65 characters', { ...valid, name: 'n'.repeat(65) }],
    ['a name with markup', { ...valid, name: '<b>x</b>' }],
    ['has missing', { ...valid, has: undefined }],
    ['a route too long', { ...valid, route: Array(MAX_ROUTE + 1).fill('A') }],
    ['too many downstream', { ...valid, downstream: Array(MAX_TREE_DOWNSTREAM + 1).fill({ peerId: 'B', multiaddrs: [] }) }],
    ['a downstream peer id with a slash', { ...valid, downstream: [{ peerId: 'a/b', multiaddrs: [] }] }],
    ['a downstream address that is no multiaddr', { ...valid, downstream: [{ peerId: 'B', multiaddrs: ['http://x'] }] }],
    ['a loss above 1', { ...valid, pipes: [{ peerId: 'B', direction: 'out', bitrateBps: 1, packetLossFraction: 1.5 }] }],
    ['a negative bitrate', { ...valid, pipes: [{ peerId: 'B', direction: 'out', bitrateBps: -1, packetLossFraction: 0 }] }],
    ['a direction that is neither in nor out', { ...valid, pipes: [{ peerId: 'B', direction: 'up', bitrateBps: 1, packetLossFraction: 0 }] }],
    ['too many pipes', { ...valid, pipes: Array(MAX_TREE_DOWNSTREAM + 2).fill({ peerId: 'B', direction: 'in', bitrateBps: 1, packetLossFraction: 0 }) }],
    ['no load', { ...valid, load: undefined }]
  ]
  for (const [what, message] of invalid) {
    it(`decodeResponse() refuses a tree-ok with ${what} (bad-message)`, () => {
      assert.throws(() => decodeResponse(utf8.encode(JSON.stringify(message))), (err: unknown) => err instanceof ProtocolError && err.code === 'bad-message')
    })
  }

  it('decodeRequestFrame() answers a tree request without a valid producerId with bad-message', () => {
    for (const producerId of [undefined, 5, 'a/b', 'x'.repeat(129)]) {
      const frame = decodeRequestFrame(utf8.encode(JSON.stringify({ id: 1, type: 'tree', producerId })))
      assert.ok('error' in frame && frame.error.code === 'bad-message', JSON.stringify(producerId))
    }
  })

  it('mutated tree and tree-ok messages never make a decoder throw anything but ProtocolError', () => {
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(fc.oneof(mutated(treeOk), mutated(treeRequest)), frameId, (message, i) => {
      const bytes = utf8.encode(JSON.stringify({ id: i, ...(message as object) }))
      let outcome = 'valid'
      try {
        decodeResponseFrame(bytes)
        decodeResponse(bytes)
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
        outcome = err.code
      }
      const frame = decodeRequestFrame(bytes)
      if ('error' in frame) assert.ok(frame.error instanceof ProtocolError)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), { numRuns: RUNS * 3 })
    for (const outcome of ['valid', 'bad-message', 'unknown-type']) assert.ok((outcomes.get(outcome) ?? 0) > 0, `no input ended as ${outcome}: ${JSON.stringify([...outcomes])}`)
  })
})
