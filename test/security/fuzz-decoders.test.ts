// Property tests of every wire decoder: the node-to-node frames (src/protocol/messages.ts)
// and the client signalling (src/signalling/messages.ts). Whatever bytes or JSON a peer
// or a client sends, a decoder returns a validated message or throws its named error
// (ProtocolError, SignallingError), nothing else; valid messages survive a round trip.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ProtocolError, WIRE_ERROR_CODES } from '../../src/errors.js'
import {
  decodeRequest, decodeRequestFrame, decodeResponse, decodeResponseFrame, encode, encodeFrame,
  MAX_ANNOUNCED_IDS, MAX_CANDIDATES, MAX_CLOSER, MAX_DATA_LABEL, MAX_LOCATE_WAIT_MS, MAX_MESSAGE_BYTES, MAX_REQUEST_ID, MAX_ROUTE, MAX_RTTS,
  MAX_SCTP_STREAM_ID
} from '../../src/protocol/messages.js'
import { CLIENT_METHODS, decodeClientRequest, SignallingError } from '../../src/signalling/messages.js'
import type { ClientRequest } from '../../src/signalling/messages.js'
import type { Request, Response } from '../../src/protocol/messages.js'

const RUNS = 2000
const utf8 = new TextEncoder()
/** What the other side sees of a value: fast-check may build objects without a prototype. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

// ---- valid node-to-node messages ----
const id = fc.stringMatching(/^[\w.:-]{1,128}$/)
const shortId = fc.stringMatching(/^[\w.:-]{1,40}$/)
/** JSON has no -0: it comes back as 0, a different value for deepEqual. */
const count = fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true })).filter((n) => !Object.is(n, -0))
const load = { load: count, capacity: count }
const endpoint = fc.record({
  pipeId: id,
  ip: fc.oneof(fc.ipV4(), fc.constantFrom('::1', 'fe80::1', '2001:db8::42')),
  port: fc.integer({ min: 1, max: 65535 }),
  srtpParameters: fc.record({
    cryptoSuite: fc.constantFrom('AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'),
    keyBase64: fc.stringMatching(/^[A-Za-z0-9+/=]{16,128}$/)
  })
})
const peerInfo = fc.record({ peerId: shortId, multiaddrs: fc.array(fc.stringMatching(/^\/[\w./:-]{0,100}$/), { maxLength: 8 }) })
const rtts = fc.dictionary(shortId, count, { maxKeys: MAX_RTTS })

const request: fc.Arbitrary<Request> = fc.oneof(
  fc.record({ type: fc.constant('pull' as const), producerId: id, linkId: id, rtts, recruited: fc.boolean(), offer: endpoint, leaving: id, data: fc.constant(true), ...load }, { requiredKeys: ['type', 'producerId', 'linkId', 'rtts', 'recruited', 'load', 'capacity'] }),
  fc.record({ type: fc.constant('status' as const), producerId: id }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('recruit' as const), producerId: id, data: fc.constant(true) }, { requiredKeys: ['type', 'producerId'] }),
  fc.record({ type: fc.constant('connect-pipe' as const), pipeId: id, remote: endpoint }),
  fc.record({ type: fc.constant('producer-event' as const), pipeId: id, producerId: id, event: fc.constantFrom('pause' as const, 'resume' as const, 'close' as const), reason: fc.constantFrom('closed' as const, 'upstream-lost' as const) }, { requiredKeys: ['type', 'pipeId', 'producerId', 'event'] }),
  fc.record({ type: fc.constant('move' as const), producerId: id }),
  fc.record({ type: fc.constant('release' as const), pipeId: id, producerId: id }),
  fc.record({ type: fc.constant('close-pipe' as const), pipeId: id }),
  // Short ids here: 2 × 256 ids of 128 characters would pass the frame size limit.
  fc.record({ type: fc.constant('announce' as const), producerIds: fc.array(shortId, { maxLength: MAX_ANNOUNCED_IDS }), withdrawn: fc.array(shortId, { maxLength: 64 }), neighbour: fc.constant(true as const) }, { requiredKeys: ['type', 'producerIds', 'withdrawn'] }),
  fc.record({ type: fc.constant('locate' as const), producerId: id, waitMs: fc.integer({ min: 0, max: MAX_LOCATE_WAIT_MS }), forward: fc.constant(true as const) }, { requiredKeys: ['type', 'producerId', 'waitMs'] }),
  fc.record({ type: fc.constant('room-producers' as const), room: fc.string({ minLength: 1, maxLength: 64 }) })
)

const response: fc.Arbitrary<Response> = fc.oneof(
  fc.constant({ type: 'ok' as const }),
  fc.record({
    type: fc.constant('pull-ok' as const),
    producerId: id,
    kind: fc.constantFrom('audio' as const, 'video' as const),
    rtpParameters: fc.record({ codecs: fc.array(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { minLength: 1, maxLength: 4 }) }),
    paused: fc.boolean(),
    appData: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    pipe: endpoint,
    peerPipeId: id,
    route: fc.array(shortId, { maxLength: MAX_ROUTE }),
    ...load
  }, { requiredKeys: ['type', 'producerId', 'kind', 'rtpParameters', 'paused', 'appData', 'pipe', 'route', 'load', 'capacity'] }) as fc.Arbitrary<Response>,
  fc.record({
    type: fc.constant('data-pull-ok' as const),
    producerId: id,
    sctpStreamParameters: fc.record({
      streamId: fc.integer({ min: 0, max: MAX_SCTP_STREAM_ID }),
      ordered: fc.boolean(),
      maxPacketLifeTime: fc.integer({ min: 0, max: 65535 }),
      maxRetransmits: fc.integer({ min: 0, max: 65535 })
    }, { requiredKeys: ['streamId'] }),
    label: fc.string({ maxLength: MAX_DATA_LABEL }),
    protocol: fc.string({ maxLength: 64 }),
    paused: fc.boolean(),
    appData: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    pipe: endpoint,
    peerPipeId: id,
    route: fc.array(shortId, { maxLength: MAX_ROUTE }),
    ...load
  }, { requiredKeys: ['type', 'producerId', 'sctpStreamParameters', 'label', 'protocol', 'paused', 'appData', 'pipe', 'route', 'load', 'capacity'] }) as fc.Arbitrary<Response>,
  fc.record({ type: fc.constant('redirect' as const), producerId: id, candidates: fc.array(peerInfo, { maxLength: MAX_CANDIDATES }) }),
  fc.record({ type: fc.constant('providers' as const), producerId: id, providers: fc.array(peerInfo, { maxLength: MAX_CANDIDATES }), closer: fc.array(peerInfo, { maxLength: MAX_CLOSER }) }, { requiredKeys: ['type', 'producerId', 'providers'] }),
  fc.record({ type: fc.constant('closer' as const), producerId: id, closer: fc.array(peerInfo, { maxLength: MAX_CLOSER }) }),
  fc.record({ type: fc.constant('status-ok' as const), has: fc.boolean(), pulling: fc.boolean(), downstream: count, draining: fc.constant(true), fanout: fc.integer({ min: 1, max: 1000 }), ...load }, { requiredKeys: ['type', 'has', 'pulling', 'downstream', 'load', 'capacity'] }),
  fc.record({ type: fc.constant('error' as const), code: fc.constantFrom(...WIRE_ERROR_CODES), message: fc.string({ maxLength: 500 }) }),
  fc.record({
    type: fc.constant('room-producers-ok' as const),
    room: fc.string({ minLength: 1, maxLength: 64 }),
    producers: fc.array(fc.record({ id, kind: fc.constantFrom('audio' as const, 'video' as const), paused: fc.boolean(), appData: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) }), { maxLength: 16 })
  })
)
const frameId = fc.integer({ min: 0, max: MAX_REQUEST_ID })

// ---- hostile input ----
/** Any JSON value, and objects that look like messages: a known type with random fields. */
const KNOWN_TYPES = ['pull', 'status', 'recruit', 'connect-pipe', 'producer-event', 'move', 'release', 'close-pipe', 'announce', 'locate', 'room-producers',
  'ok', 'pull-ok', 'data-pull-ok', 'redirect', 'providers', 'closer', 'status-ok', 'error', 'room-producers-ok', '__proto__', 'constructor', 'toString']
const FIELDS = ['id', 'producerId', 'linkId', 'pipeId', 'offer', 'remote', 'pipe', 'rtts', 'recruited', 'leaving', 'load', 'capacity', 'event',
  'reason', 'producerIds', 'withdrawn', 'neighbour', 'waitMs', 'forward', 'kind', 'rtpParameters', 'paused', 'appData', 'peerPipeId', 'route', 'candidates',
  'providers', 'closer', 'has', 'pulling', 'downstream', 'draining', 'fanout', 'code', 'message', 'data', 'sctpStreamParameters', 'label',
  'protocol', 'room', 'producers', '__proto__', 'constructor']
const anyJson = fc.jsonValue({ maxDepth: 4 })
const messageLike = fc.record({ type: fc.oneof(fc.constantFrom(...KNOWN_TYPES), anyJson) }).chain((base) =>
  fc.dictionary(fc.constantFrom(...FIELDS), anyJson, { maxKeys: 8 }).map((fields) => ({ ...fields, ...base })))

/** A valid message with one field replaced by any JSON value or removed. */
function mutatedMessage<T extends object> (valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), fc.option(anyJson, { nil: undefined })).map(([message, n, value]) => {
    const copy = { ...message } as Record<string, unknown>
    const keys = [...Object.keys(copy), ...FIELDS]
    const key = keys[n % keys.length]!
    if (value === undefined) delete copy[key]
    else copy[key] = value
    return copy
  })
}

/** Bytes of a valid frame with bytes flipped, inserted, removed, or cut short. */
function mutatedBytes (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.constantFrom('flip', 'insert', 'delete', 'cut'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }))
    .map(([bytes, edits]) => {
      const b = [...bytes]
      for (const [edit, at, value] of edits) {
        const i = b.length === 0 ? 0 : at % b.length
        if (edit === 'flip') b[i] = value
        else if (edit === 'insert') b.splice(i, 0, value)
        else if (edit === 'delete') b.splice(i, 1)
        else b.length = i
      }
      return Uint8Array.from(b)
    })
}

const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => utf8.encode(s)),
  fc.oneof(anyJson, messageLike).map((v) => utf8.encode(JSON.stringify(v) ?? 'null')),
  mutatedMessage(request).map((v) => utf8.encode(JSON.stringify(v))),
  mutatedMessage(response).map((v) => utf8.encode(JSON.stringify(v))),
  mutatedBytes(fc.tuple(frameId, request).map(([i, r]) => encodeFrame(i, r))),
  mutatedBytes(fc.tuple(frameId, response).map(([i, r]) => encodeFrame(i, r))),
  // Just over and under the size limit.
  fc.integer({ min: MAX_MESSAGE_BYTES - 2, max: MAX_MESSAGE_BYTES + 2 }).map((n) => utf8.encode(`{"type":"status","pad":"${'x'.repeat(Math.max(0, n - 27))}"}`))
)

/** Runs `decode`; any throw but `named` fails the property. */
function onlyNamed (decode: () => unknown, named: new (...args: never[]) => Error): void {
  try {
    decode()
  } catch (err) {
    if (!(err instanceof named)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}, not ${named.name}`, { cause: err })
  }
}

describe('wire decoders under property tests (fast-check)', function () {
  this.timeout(120_000)

  it('node-to-node: every valid request survives encodeFrame() → decodeRequestFrame() and encode() → decodeRequest()', () => {
    fc.assert(fc.property(frameId, request, (i, req) => {
      assert.deepEqual(decodeRequestFrame(encodeFrame(i, req)), { id: i, request: plain(req) })
      assert.deepEqual(decodeRequest(encode(req)), plain(req))
    }), { numRuns: RUNS })
  })

  it('node-to-node: every valid response survives encodeFrame() → decodeResponseFrame() and encode() → decodeResponse()', () => {
    fc.assert(fc.property(frameId, response, (i, res) => {
      assert.deepEqual(decodeResponseFrame(encodeFrame(i, res)), { id: i, response: plain(res) })
      assert.deepEqual(decodeResponse(encode(res)), plain(res))
    }), { numRuns: RUNS })
  })

  it('node-to-node: random and mutated bytes never make a decoder throw anything but ProtocolError', () => {
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(hostileBytes, (bytes) => {
      onlyNamed(() => decodeRequest(bytes), ProtocolError)
      onlyNamed(() => decodeResponse(bytes), ProtocolError)
      onlyNamed(() => decodeResponseFrame(bytes), ProtocolError)
      // The server's decoder never throws: it returns what to answer.
      const frame = decodeRequestFrame(bytes)
      if ('error' in frame) assert.ok(frame.error instanceof ProtocolError)
      const outcome = 'error' in frame ? frame.error.code : 'valid'
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), { numRuns: RUNS * 5 })
    // The input reached every answer, not only the JSON parser's.
    for (const outcome of ['valid', 'bad-message', 'unknown-type', 'too-large']) assert.ok((outcomes.get(outcome) ?? 0) > 0, `no input ended as ${outcome}: ${JSON.stringify([...outcomes])}`)
  })

  it('node-to-node: a decoded request is a valid request (decoding it again gives the same)', () => {
    fc.assert(fc.property(hostileBytes, (bytes) => {
      const frame = decodeRequestFrame(bytes)
      if ('request' in frame) assert.deepEqual(decodeRequestFrame(encodeFrame(frame.id, frame.request)), frame)
    }), { numRuns: RUNS * 5 })
  })

  // ---- client signalling ----
  const dtls = fc.record({
    role: fc.constantFrom('auto' as const, 'client' as const, 'server' as const),
    fingerprints: fc.array(fc.record({
      algorithm: fc.constantFrom('sha-1' as const, 'sha-224' as const, 'sha-256' as const, 'sha-384' as const, 'sha-512' as const),
      value: fc.array(fc.stringMatching(/^[0-9A-F]{2}$/), { minLength: 16, maxLength: 64 }).map((parts) => parts.join(':'))
    }), { minLength: 1, maxLength: 8 })
  }, { requiredKeys: ['fingerprints'] })
  const jsonObject = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
  const requestId = fc.oneof(fc.maxSafeInteger(), fc.string({ minLength: 1, maxLength: 64 })).filter((v) => !Object.is(v, -0))
  const transportId = id
  const uint16 = fc.integer({ min: 0, max: 65535 })
  const clientData: Record<string, fc.Arbitrary<object>> = {
    getRouterRtpCapabilities: fc.constant({}),
    createWebRtcTransport: fc.record({ direction: fc.constantFrom('send', 'recv'), sctpCapabilities: fc.record({ numStreams: fc.record({ OS: uint16, MIS: uint16 }) }) }, { requiredKeys: ['direction'] }),
    connectWebRtcTransport: fc.record({ transportId, dtlsParameters: dtls }),
    produce: fc.record({ transportId, kind: fc.constantFrom('audio', 'video'), rtpParameters: fc.record({ codecs: fc.array(jsonObject, { minLength: 1, maxLength: 4 }), encodings: fc.array(jsonObject, { maxLength: 4 }) }), appData: jsonObject }),
    consume: fc.record({ transportId, producerId: id, rtpCapabilities: fc.record({ codecs: fc.array(jsonObject, { maxLength: 4 }) }) }),
    pauseConsumer: fc.record({ consumerId: id }),
    resumeConsumer: fc.record({ consumerId: id }),
    closeConsumer: fc.record({ consumerId: id }),
    requestKeyFrame: fc.record({ consumerId: id }),
    pauseProducer: fc.record({ producerId: id }),
    resumeProducer: fc.record({ producerId: id }),
    closeProducer: fc.record({ producerId: id }),
    listProducers: fc.record({ room: fc.string({ minLength: 1, maxLength: 128 }) }, { requiredKeys: [] }),
    setConsumerPreferredLayers: fc.record({ consumerId: id, spatialLayer: fc.integer({ min: 0, max: 15 }), temporalLayer: fc.integer({ min: 0, max: 15 }) }, { requiredKeys: ['consumerId', 'spatialLayer'] }),
    setConsumerPriority: fc.record({ consumerId: id, priority: fc.integer({ min: 1, max: 255 }) }),
    produceData: fc.record({
      transportId,
      sctpStreamParameters: fc.record({ streamId: uint16, ordered: fc.boolean(), maxPacketLifeTime: uint16, maxRetransmits: uint16 }, { requiredKeys: ['streamId'] }),
      label: fc.string({ maxLength: 1024 }),
      protocol: fc.string({ maxLength: 64 }),
      appData: jsonObject
    }),
    consumeData: fc.record({ transportId, dataProducerId: id }),
    closeDataProducer: fc.record({ dataProducerId: id }),
    closeDataConsumer: fc.record({ dataConsumerId: id })
  }
  const clientRequest = fc.constantFrom(...CLIENT_METHODS).chain((method) =>
    fc.record({ id: requestId, method: fc.constant(method), data: clientData[method]! })) as fc.Arbitrary<ClientRequest>

  it('signalling: every valid client request survives JSON → decodeClientRequest()', () => {
    assert.deepEqual(Object.keys(clientData).sort(), [...CLIENT_METHODS].sort(), 'a method without an arbitrary')
    fc.assert(fc.property(clientRequest, (req) => {
      assert.deepEqual(decodeClientRequest(JSON.stringify(req)), plain(req))
    }), { numRuns: RUNS })
  })

  it('signalling: random and mutated text never makes decodeClientRequest() throw anything but SignallingError', () => {
    const clientLike = fc.record({ id: fc.oneof(requestId, anyJson), method: fc.oneof(fc.constantFrom(...CLIENT_METHODS, '__proto__', 'constructor', 'hasOwnProperty'), anyJson) })
      .chain((base) => fc.oneof(anyJson, fc.dictionary(fc.constantFrom('transportId', 'producerId', 'consumerId', 'dtlsParameters', 'rtpParameters', 'rtpCapabilities', 'kind', 'direction', 'appData', 'sctpCapabilities', 'sctpStreamParameters', 'label', 'protocol', 'dataProducerId', 'dataConsumerId', 'room', 'spatialLayer', 'temporalLayer', 'priority', '__proto__'), anyJson, { maxKeys: 5 }))
        .map((data) => ({ ...base, data })))
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.oneof(anyJson, clientLike).map((v) => JSON.stringify(v) ?? 'null'),
      mutatedMessage(clientRequest).map((v) => JSON.stringify(v)),
      mutatedBytes(clientRequest.map((r) => utf8.encode(JSON.stringify(r)))).map((b) => Buffer.from(b).toString('utf8')),
      fc.integer({ min: 64 * 1024 - 2, max: 64 * 1024 + 2 }).map((n) => `{"id":1,"method":"listProducers","pad":"${'x'.repeat(Math.max(0, n - 42))}"}`)
    )
    const outcomes = new Map<string, number>()
    fc.assert(fc.property(text, (t) => {
      onlyNamed(() => decodeClientRequest(t), SignallingError)
      let outcome = 'valid'
      try {
        decodeClientRequest(t)
      } catch (err) {
        outcome = (err as SignallingError).code
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }), { numRuns: RUNS * 5 })
    for (const outcome of ['valid', 'BadRequest', 'UnknownMethod', 'TooLarge']) assert.ok((outcomes.get(outcome) ?? 0) > 0, `no input ended as ${outcome}: ${JSON.stringify([...outcomes])}`)
  })
})
