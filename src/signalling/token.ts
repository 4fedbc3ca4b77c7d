// Client tokens (docs/client-signalling.md#tokens): an application server that shares the
// secret with the node mints a short-lived token naming what a browser may do; the browser
// passes it as `?token=` when it opens the signalling WebSocket.
// Format: `v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "v1." + claims part))>`.
import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * What a token allows. `publish`: send transports and producers (create, pause, resume,
 * close). `consume`: receive transports and consumers.
 */
export type ClientAction = 'publish' | 'consume'

export const CLIENT_ACTIONS: readonly ClientAction[] = ['publish', 'consume']

export interface ClientTokenClaims {
  /** Issued at, Unix seconds. */
  iat: number
  /** Expires at, Unix seconds: the token opens no connection at or after this time. */
  exp: number
  actions: ClientAction[]
}

export interface CreateClientTokenOptions {
  /** Shared with the signalling's `authenticate.secret`; at least 16 characters. */
  secret: string
  /** Lifetime from `issuedAt`, in seconds (> 0). */
  expiresInSeconds: number
  /** Allowed actions (at least one). */
  actions: ClientAction[]
  /** Issue time, Unix seconds. Default now. */
  issuedAt?: number
}

/** Longest token accepted; a token with both actions is about 140 characters. */
export const MAX_TOKEN_LENGTH = 1024
export const MIN_SECRET_LENGTH = 16
const VERSION = 'v1'

export type TokenCheck = { ok: true, claims: ClientTokenClaims } | { ok: false, reason: string }

export function checkSecret (secret: unknown): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(`the token secret must be a string of at least ${MIN_SECRET_LENGTH} characters`)
  }
}

function sign (secret: string, signed: string): Buffer {
  return createHmac('sha256', secret).update(signed).digest()
}

function isActionList (value: unknown): value is ClientAction[] {
  return Array.isArray(value) && value.length > 0 && value.length <= CLIENT_ACTIONS.length &&
    value.every((a) => CLIENT_ACTIONS.includes(a as ClientAction))
}

/** Mints a token for a browser client. */
export function createClientToken (options: CreateClientTokenOptions): string {
  checkSecret(options.secret)
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000)
  if (!Number.isInteger(iat) || iat < 0) throw new TypeError('issuedAt must be Unix seconds')
  if (!Number.isFinite(options.expiresInSeconds) || options.expiresInSeconds <= 0) throw new TypeError('expiresInSeconds must be > 0')
  if (!isActionList(options.actions)) throw new TypeError(`actions must be a non-empty list of ${CLIENT_ACTIONS.join(', ')}`)
  const claims: ClientTokenClaims = { iat, exp: iat + Math.ceil(options.expiresInSeconds), actions: [...new Set(options.actions)] }
  const body = `${VERSION}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${body}.${sign(options.secret, body).toString('base64url')}`
}

/** Checks signature and expiry; `reason` is safe to show to the client. */
export function verifyClientToken (token: string | null | undefined, secret: string, nowSeconds = Date.now() / 1000): TokenCheck {
  if (token === null || token === undefined || token === '') return { ok: false, reason: 'missing token' }
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed token' }
  const parts = token.split('.')
  if (parts.length !== 3 || !parts.every((p) => /^[\w-]+$/.test(p))) return { ok: false, reason: 'malformed token' }
  const [version, payload, signature] = parts as [string, string, string]
  if (version !== VERSION) return { ok: false, reason: 'unsupported token version' }
  const expected = sign(secret, `${version}.${payload}`)
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad token signature' }
  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed token' }
  }
  const c = claims as Partial<ClientTokenClaims> | null
  if (typeof c !== 'object' || c === null || !Number.isInteger(c.iat) || !Number.isInteger(c.exp) || !isActionList(c.actions)) {
    return { ok: false, reason: 'malformed token' }
  }
  if (nowSeconds >= (c.exp as number)) return { ok: false, reason: 'token expired' }
  return { ok: true, claims: { iat: c.iat as number, exp: c.exp as number, actions: c.actions } }
}
