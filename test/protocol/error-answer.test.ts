import assert from 'node:assert/strict'
import { CapacityError, InvalidStateError, ProducerNotFoundError, ProtocolError, RedirectLimitError, RequestRefusedError, WIRE_ERROR_CODES } from '../../src/errors.js'
import { toErrorAnswer } from '../../src/protocol/error-answer.js'
import { decodeResponse, encode } from '../../src/protocol/messages.js'

describe('error answers (one mapping from errors to wire codes)', () => {
  const cases: Array<[string, unknown, string]> = [
    ['a refusal keeps its code', new RequestRefusedError('busy', 'too many pipes'), 'busy'],
    ['a validation error keeps its code', new ProtocolError('too-large', 'big'), 'too-large'],
    ['no capacity', new CapacityError('p'), 'capacity'],
    ['too many redirects', new RedirectLimitError('p', 6), 'capacity'],
    ['a producer this node could not get', new ProducerNotFoundError('p'), 'not-found'],
    ['a stopping node', new InvalidStateError('node is stopped'), 'not-found'],
    ['anything unnamed (a bug, mediasoup)', new Error('boom'), 'internal'],
    ['a thrown non-error', 'text', 'internal']
  ]
  for (const [what, err, code] of cases) {
    it(`${what} → ${code}`, () => {
      const answer = toErrorAnswer(err)
      assert.equal(answer.type, 'error')
      assert.equal(answer.code, code)
    })
  }

  it('messages are cut to 500 characters', () => {
    assert.equal(toErrorAnswer(new Error('x'.repeat(2000))).message.length, 500)
  })

  it('every wire code survives encoding; a code this version does not know reads as internal', () => {
    for (const code of WIRE_ERROR_CODES) assert.equal((decodeResponse(encode({ type: 'error', code, message: 'm' })) as { code: string }).code, code)
    const unknown = new TextEncoder().encode(JSON.stringify({ type: 'error', code: 'from-the-future', message: 'm' }))
    assert.equal((decodeResponse(unknown) as { code: string }).code, 'internal')
  })
})
