// Client tokens are JWTs (RFC 7519, HS256): what createClientToken() mints and what
// verifyClientToken() accepts and refuses, each refusal with its reason.
import assert from 'node:assert/strict'
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose'
import { CLOCK_TOLERANCE_S, MAX_TOKEN_LENGTH, createClientToken, verifyClientToken } from '../../src/signalling/token.js'
import type { CreateClientTokenOptions } from '../../src/signalling/token.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'
const NOW = 1_800_000_000

/** A JWT signed with SECRET (or `secret`) carrying exactly `payload`. */
async function sign (payload: Record<string, unknown>, alg = 'HS256', secret = SECRET): Promise<string> {
  return await new SignJWT(payload).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret))
}

describe('client tokens (JWT, HS256)', () => {
  it('createClientToken() mints a JWT with sub, iat, exp, nbf and grants that verifyClientToken() accepts', async () => {
    const token = await createClientToken({
      secret: SECRET, sub: 'alice', expiresInSeconds: 600, issuedAt: NOW, notBefore: NOW + 10, grants: { consume: true, room: 'a' }
    })
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' })
    assert.deepEqual(decodeJwt(token), { sub: 'alice', iat: NOW, exp: NOW + 600, nbf: NOW + 10, grants: { consume: true, room: 'a' } })
    assert.deepEqual(await verifyClientToken(token, SECRET, NOW + 20), {
      ok: true, claims: { sub: 'alice', iat: NOW, exp: NOW + 600, nbf: NOW + 10, grants: { consume: true, room: 'a' } }
    })
  })

  it('accepts a token minted elsewhere (any JWT library) with only sub, exp and grants', async () => {
    const token = await sign({ sub: 'bob', exp: NOW + 60, grants: { publish: true, consume: false } })
    assert.deepEqual(await verifyClientToken(token, SECRET, NOW), { ok: true, claims: { sub: 'bob', exp: NOW + 60, grants: { publish: true } } })
  })

  it(`allows ${CLOCK_TOLERANCE_S} s of clock difference on exp and nbf, not more`, async () => {
    const token = await createClientToken({ secret: SECRET, sub: 'c', expiresInSeconds: 60, issuedAt: NOW, notBefore: NOW, grants: { consume: true } })
    assert.equal((await verifyClientToken(token, SECRET, NOW + 60 + CLOCK_TOLERANCE_S - 1)).ok, true)
    assert.equal((await verifyClientToken(token, SECRET, NOW - CLOCK_TOLERANCE_S + 1)).ok, true)
    assert.deepEqual(await verifyClientToken(token, SECRET, NOW + 60 + CLOCK_TOLERANCE_S), { ok: false, reason: 'token expired' })
    assert.deepEqual(await verifyClientToken(token, SECRET, NOW - CLOCK_TOLERANCE_S - 1), { ok: false, reason: 'token not yet valid' })
  })

  const refused: Array<[string, () => Promise<string | null>, string]> = [
    ['no token', async () => null, 'missing token'],
    ['an empty token', async () => '', 'missing token'],
    ['not a JWT', async () => 'garbage', 'malformed token'],
    ['the old v1. format', async () => 'v1.eyJpYXQiOjF9.c2ln', 'malformed token'],
    ['a token over MAX_TOKEN_LENGTH', async () => 'a'.repeat(MAX_TOKEN_LENGTH + 1), 'malformed token'],
    ['another secret', async () => await sign({ sub: 's', exp: NOW + 60, grants: { consume: true } }, 'HS256', 'another-secret-of-at-least-32-characters'), 'bad token signature'],
    ['claims changed after signing', async () => {
      const [header, , signature] = (await sign({ sub: 's', exp: NOW + 60, grants: { consume: true } })).split('.')
      const claims = Buffer.from(JSON.stringify({ sub: 's', exp: NOW + 60, grants: { consume: true, publish: true } })).toString('base64url')
      return `${header}.${claims}.${signature}`
    }, 'bad token signature'],
    ['alg none', async () => {
      const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
      return `${b64({ alg: 'none' })}.${b64({ sub: 's', exp: NOW + 60, grants: { consume: true } })}.`
    }, 'token algorithm must be HS256'],
    ['HS512', async () => await sign({ sub: 's', exp: NOW + 60, grants: { consume: true } }, 'HS512'), 'token algorithm must be HS256'],
    ['no exp', async () => await sign({ sub: 's', grants: { consume: true } }), 'malformed token'],
    ['no sub', async () => await sign({ exp: NOW + 60, grants: { consume: true } }), 'malformed token'],
    ['a sub that is not a string', async () => await sign({ sub: 7, exp: NOW + 60, grants: { consume: true } }), 'malformed token'],
    ['no grants', async () => await sign({ sub: 's', exp: NOW + 60 }), 'malformed token'],
    ['grants as a list', async () => await sign({ sub: 's', exp: NOW + 60, grants: ['consume'] }), 'malformed token'],
    ['a grant that is not a boolean', async () => await sign({ sub: 's', exp: NOW + 60, grants: { consume: 'yes' } }), 'malformed token'],
    ['grants allowing nothing', async () => await sign({ sub: 's', exp: NOW + 60, grants: { room: 'a' } }), 'malformed token'],
    ['an empty room', async () => await sign({ sub: 's', exp: NOW + 60, grants: { consume: true, room: '' } }), 'malformed token'],
    ['a room that is not a string', async () => await sign({ sub: 's', exp: NOW + 60, grants: { consume: true, room: 1 } }), 'malformed token'],
    ['an expired token', async () => await sign({ sub: 's', exp: NOW - 60, grants: { consume: true } }), 'token expired'],
    ['a token not yet valid', async () => await sign({ sub: 's', exp: NOW + 600, nbf: NOW + 60, grants: { consume: true } }), 'token not yet valid']
  ]
  for (const [what, make, reason] of refused) {
    it(`refuses ${what}: ${reason}`, async () => {
      assert.deepEqual(await verifyClientToken(await make(), SECRET, NOW), { ok: false, reason })
    })
  }

  const bad: Array<[string, Partial<CreateClientTokenOptions>]> = [
    ['a secret under 32 characters', { secret: 'x'.repeat(31) }],
    ['no sub', { sub: '' }],
    ['a sub over 128 characters', { sub: 's'.repeat(129) }],
    ['a lifetime of 0', { expiresInSeconds: 0 }],
    ['grants allowing nothing', { grants: { room: 'a' } }],
    ['grants with an empty room', { grants: { consume: true, room: '' } }],
    ['issuedAt that is not Unix seconds', { issuedAt: 1.5 }],
    ['notBefore that is not Unix seconds', { notBefore: -1 }]
  ]
  for (const [what, options] of bad) {
    it(`createClientToken() throws TypeError for ${what}`, async () => {
      await assert.rejects(createClientToken({ secret: SECRET, sub: 's', expiresInSeconds: 60, grants: { consume: true }, ...options }), TypeError)
    })
  }
})
