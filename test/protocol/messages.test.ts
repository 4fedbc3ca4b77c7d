import assert from 'node:assert/strict'
import { ProtocolError } from '../../src/errors.js'
import { decodeRequest, decodeRequestFrame, decodeResponse, decodeResponseFrame, encode, encodeFrame, MAX_MESSAGE_BYTES, MAX_REQUEST_ID } from '../../src/protocol/messages.js'

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))
const endpoint = { pipeId: 'p1', ip: '127.0.0.1', port: 4000, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0' } }

describe('protocol messages', () => {
  it('decodeRequest() accepts every valid request type', () => {
    const valid = [
      { type: 'pull', producerId: 'a-b', linkId: 'l1', rtts: { Qm1: 3 }, recruited: false, load: 4, capacity: 2000 },
      { type: 'pull', producerId: 'a-b', linkId: 'l1', rtts: {}, recruited: true, offer: endpoint, load: 4, capacity: 2000 },
      { type: 'pull', producerId: 'a-b', linkId: 'l1', rtts: {}, recruited: false, data: true, load: 4, capacity: 2000 },
      { type: 'recruit', producerId: 'x', data: true },
      { type: 'status', producerId: 'x' },
      { type: 'recruit', producerId: 'x' },
      { type: 'connect-pipe', pipeId: 'p0', remote: endpoint },
      { type: 'producer-event', pipeId: 'p0', producerId: 'x', event: 'pause' },
      { type: 'release', pipeId: 'p0', producerId: 'x' },
      { type: 'close-pipe', pipeId: 'p0' },
      { type: 'move', producerId: 'x' },
      { type: 'announce', producerIds: ['x', 'y'], withdrawn: ['z'] },
      { type: 'announce', producerIds: ['x'], withdrawn: [], neighbour: true },
      { type: 'announce', producerIds: ['x'], withdrawn: [], refresh: true },
      { type: 'locate', producerId: 'x', waitMs: 1000 },
      { type: 'locate', producerId: 'x', waitMs: 0, forward: true }
    ]
    for (const m of valid) assert.deepEqual(decodeRequest(bytes(m)), m)
  })

  const invalid: Array<[string, unknown, string]> = [
    ['not JSON', '{"type":', 'bad-message'],
    ['not UTF-8', '\xff\xfe', 'bad-message'],
    ['an array', [1, 2], 'bad-message'],
    ['unknown type', { type: 'hello' }, 'unknown-type'],
    ['missing producerId', { type: 'pull', linkId: 'l', load: 0, capacity: 1 }, 'bad-message'],
    ['numeric producerId', { type: 'pull', producerId: 5, linkId: 'l', load: 0, capacity: 1 }, 'bad-message'],
    ['id with a slash', { type: 'pull', producerId: 'a/b', linkId: 'l', load: 0, capacity: 1 }, 'bad-message'],
    ['too long id', { type: 'pull', producerId: 'x'.repeat(200), linkId: 'l', load: 0, capacity: 1 }, 'bad-message'],
    ['negative load', { type: 'pull', producerId: 'x', linkId: 'l', load: -1, capacity: 1 }, 'bad-message'],
    ['rtts not numbers', { type: 'pull', producerId: 'x', linkId: 'l', load: 0, capacity: 1, rtts: { a: 'fast' } }, 'bad-message'],
    ['non-boolean recruited', { type: 'pull', producerId: 'x', linkId: 'l', load: 0, capacity: 1, recruited: 'yes' }, 'bad-message'],
    ['an offer without SRTP', { type: 'pull', producerId: 'x', linkId: 'l', load: 0, capacity: 1, offer: { ...endpoint, srtpParameters: undefined } }, 'bad-message'],
    ['an offer that is not an object', { type: 'pull', producerId: 'x', linkId: 'l', load: 0, capacity: 1, offer: 'p1' }, 'bad-message'],
    ['non-boolean data', { type: 'pull', producerId: 'x', linkId: 'l', load: 0, capacity: 1, data: 'yes' }, 'bad-message'],
    ['a recruit with non-boolean data', { type: 'recruit', producerId: 'x', data: 1 }, 'bad-message'],
    ['bad ip', { type: 'connect-pipe', pipeId: 'p', remote: { ...endpoint, ip: 'example.com' } }, 'bad-message'],
    ['bad port', { type: 'connect-pipe', pipeId: 'p', remote: { ...endpoint, port: 70000 } }, 'bad-message'],
    ['bad SRTP suite', { type: 'connect-pipe', pipeId: 'p', remote: { ...endpoint, srtpParameters: { cryptoSuite: 'NULL', keyBase64: 'AAAAAAAAAAAAAAAAAAAA' } } }, 'bad-message'],
    ['bad event', { type: 'producer-event', pipeId: 'p', producerId: 'x', event: 'explode' }, 'bad-message'],
    ['an announce of too many ids', { type: 'announce', producerIds: Array(257).fill('x'), withdrawn: [] }, 'bad-message'],
    ['an announce with a bad id', { type: 'announce', producerIds: ['a/b'], withdrawn: [] }, 'bad-message'],
    ['an announce with a neighbour that is not a boolean', { type: 'announce', producerIds: ['x'], withdrawn: [], neighbour: 1 }, 'bad-message'],
    ['an announce with a refresh that is not a boolean', { type: 'announce', producerIds: ['x'], withdrawn: [], refresh: 'yes' }, 'bad-message'],
    ['a locate that waits too long', { type: 'locate', producerId: 'x', waitMs: 60_000 }, 'bad-message'],
    ['a locate with no wait', { type: 'locate', producerId: 'x' }, 'bad-message'],
    ['a locate with a forward that is not a boolean', { type: 'locate', producerId: 'x', waitMs: 0, forward: 'yes' }, 'bad-message'],
    ['too large', { type: 'pull', producerId: 'x', linkId: 'l', pad: 'x'.repeat(MAX_MESSAGE_BYTES) }, 'too-large']
  ]
  for (const [what, message, code] of invalid) {
    it(`decodeRequest() rejects ${what} with ProtocolError ${code}`, () => {
      assert.throws(() => decodeRequest(typeof message === 'string' ? Buffer.from(message, 'latin1') : bytes(message)),
        (err: unknown) => err instanceof ProtocolError && err.code === code)
    })
  }

  it('decodeRequest() takes an announce without withdrawn as withdrawing nothing', () => {
    assert.deepEqual(decodeRequest(bytes({ type: 'announce', producerIds: ['x'] })), { type: 'announce', producerIds: ['x'], withdrawn: [] })
  })

  it('decodeResponse() checks providers', () => {
    const ok = { type: 'providers', producerId: 'x', providers: [{ peerId: 'Qm1', multiaddrs: ['/ip4/10.0.0.1/tcp/4001'] }] }
    assert.deepEqual(decodeResponse(encode(ok as never)), ok)
    assert.throws(() => decodeResponse(bytes({ ...ok, providers: [{ peerId: 'Qm1', multiaddrs: ['not-an-address'] }] })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, providers: Array(17).fill(ok.providers[0]) })), ProtocolError)
    const withCloser = { ...ok, closer: ok.providers }
    assert.deepEqual(decodeResponse(encode(withCloser as never)), withCloser)
    assert.throws(() => decodeResponse(bytes({ ...ok, closer: Array(9).fill(ok.providers[0]) })), ProtocolError)
    const closer = { type: 'closer', producerId: 'x', closer: ok.providers }
    assert.deepEqual(decodeResponse(encode(closer as never)), closer)
    assert.throws(() => decodeResponse(bytes({ ...closer, closer: 'Qm1' })), ProtocolError)
  })

  it('decodeResponse() checks pull-ok fields', () => {
    const ok = { type: 'pull-ok', producerId: 'x', kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus' }], encodings: [] }, paused: false, appData: { a: 1 }, pipe: endpoint, route: ['Qm1'], load: 1, capacity: 10 }
    assert.deepEqual(decodeResponse(encode(ok as never)), ok)
    assert.deepEqual(decodeResponse(bytes({ ...ok, peerPipeId: 'p2' })), { ...ok, peerPipeId: 'p2' })
    assert.throws(() => decodeResponse(bytes({ ...ok, peerPipeId: 7 })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, kind: 'smell' })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, rtpParameters: { codecs: [] } })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, paused: 'no' })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, route: Array(40).fill('Qm1') })), ProtocolError)
  })

  it('decodeResponse() checks data-pull-ok fields', () => {
    const ok = { type: 'data-pull-ok', producerId: 'x', sctpStreamParameters: { streamId: 3, ordered: true }, label: 'chat', protocol: '', paused: false, appData: { room: 'r' }, pipe: endpoint, route: ['Qm1'], load: 1, capacity: 10 }
    assert.deepEqual(decodeResponse(encode(ok as never)), ok)
    assert.deepEqual(decodeResponse(bytes({ ...ok, peerPipeId: 'p2' })), { ...ok, peerPipeId: 'p2' })
    // Older senders may leave an empty label or protocol out.
    const { label: _label, protocol: _protocol, ...bare } = ok
    assert.deepEqual(decodeResponse(bytes(bare)), { ...ok, label: '', protocol: '' })
    assert.throws(() => decodeResponse(bytes({ ...ok, sctpStreamParameters: { streamId: 70000 } })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, sctpStreamParameters: { streamId: 1, ordered: 'yes' } })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, sctpStreamParameters: { streamId: 1, maxRetransmits: -1 } })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, sctpStreamParameters: undefined })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, label: 'x'.repeat(2000) })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, protocol: 5 })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, paused: undefined })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...ok, pipe: { ...endpoint, port: 0 } })), ProtocolError)
  })

  it('frames carry a request id: a bad request keeps its id in the answer, an unreadable one gets null', () => {
    assert.deepEqual(decodeRequestFrame(encodeFrame(7, { type: 'status' })), { id: 7, request: { type: 'status' } })
    const bad = decodeRequestFrame(bytes({ id: 8, type: 'pull', producerId: 1 }))
    assert.ok('error' in bad && bad.id === 8 && bad.error.code === 'bad-message')
    for (const id of [undefined, -1, 1.5, '3', MAX_REQUEST_ID + 1]) {
      const frame = decodeRequestFrame(bytes({ id, type: 'status' }))
      assert.ok('error' in frame && frame.id === null && frame.error.code === 'bad-message', `id ${String(id)}`)
    }
    const unknown = decodeRequestFrame(bytes({ id: 2, type: 'launch' }))
    assert.ok('error' in unknown && unknown.id === 2 && unknown.error.code === 'unknown-type')
    assert.deepEqual(decodeResponseFrame(encodeFrame(5, { type: 'ok' })), { id: 5, response: { type: 'ok' } })
    const badAnswer = decodeResponseFrame(bytes({ id: 6, type: 'pull-ok' }))
    assert.ok('error' in badAnswer && badAnswer.id === 6)
    assert.throws(() => decodeResponseFrame(bytes({ type: 'ok' })), ProtocolError)
  })

  it('decodeResponse() checks redirect candidates', () => {
    const redirect = { type: 'redirect', producerId: 'x', candidates: [{ peerId: 'Qm1', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] }] }
    assert.deepEqual(decodeResponse(bytes(redirect)), redirect)
    assert.throws(() => decodeResponse(bytes({ ...redirect, candidates: [{ peerId: 'Qm1', multiaddrs: ['http://x'] }] })), ProtocolError)
    assert.throws(() => decodeResponse(bytes({ ...redirect, candidates: Array(17).fill(redirect.candidates[0]) })), ProtocolError)
  })
})
