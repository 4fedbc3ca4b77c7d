// Client tokens (docs/client-signalling.md#tokens): JSON Web Tokens (RFC 7519) signed with
// HS256 and the secret the node shares with the application server. The server mints a
// short-lived token naming who the client is (`sub`) and what it may do (`grants`); the
// browser passes it as `?token=` when it opens the signalling WebSocket.
import { errors as jose, jwtVerify, SignJWT } from 'jose'

/** What a token lets a client do; see ClientGrants. */
export type ClientAction = 'publish' | 'consume'

export const CLIENT_ACTIONS: readonly ClientAction[] = ['publish', 'consume']

/**
 * The `grants` claim. `publish`: send transports and producers (create, pause, resume,
 * close). `consume`: receive transports and consumers. `room`: the producers the client
 * publishes carry this room (their `appData.room`), and it may consume only producers
 * of this room; without it, the client publishes and consumes in any room.
 */
export interface ClientGrants {
  publish?: boolean
  consume?: boolean
  room?: string
}

export interface ClientTokenClaims {
  /** The client's identity (RFC 7519 `sub`), as the application server named it. */
  sub: string
  /** Expires at, Unix seconds: the token opens no connection at or after this time. */
  exp: number
  /** Not before, Unix seconds: the token opens no connection before this time. */
  nbf?: number
  /** Issued at, Unix seconds. */
  iat?: number
  grants: ClientGrants
}

export interface CreateClientTokenOptions {
  /** Shared with the signalling's `authenticate.secret`; at least MIN_SECRET_LENGTH characters. */
  secret: string
  /** The client's identity (non-empty, at most MAX_CLAIM_LENGTH characters). */
  sub: string
  /** Lifetime from `issuedAt`, in seconds (> 0). */
  expiresInSeconds: number
  /** What the client may do: `publish` or `consume` (at least one), optionally in one `room`. */
  grants: ClientGrants
  /** Issue time, Unix seconds. Default now. */
  issuedAt?: number
  /** Unix seconds before which the token is refused. Default none. */
  notBefore?: number
}

/** Longest token accepted; one with every claim is about 250 characters. */
export const MAX_TOKEN_LENGTH = 2048
/** RFC 7518 §3.2: an HS256 key has at least 256 bits; 32 characters are at least that. */
export const MIN_SECRET_LENGTH = 32
/** Longest `sub` and `room`. */
export const MAX_CLAIM_LENGTH = 128
/** Clock difference allowed between the minting server and the node when checking `exp` and `nbf`, seconds. */
export const CLOCK_TOLERANCE_S = 5

/** `reason` is safe to show to the client. */
export type TokenCheck = { ok: true, claims: ClientTokenClaims } | { ok: false, reason: string }

export function checkSecret (secret: unknown): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(`the token secret must be a string of at least ${MIN_SECRET_LENGTH} characters`)
  }
}

function isClaimString (value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH
}

/** The grants when they are well-formed and allow something; undefined otherwise. */
function validGrants (value: unknown): ClientGrants | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const { publish, consume, room } = value as Record<string, unknown>
  if ((publish !== undefined && typeof publish !== 'boolean') || (consume !== undefined && typeof consume !== 'boolean')) return undefined
  if (room !== undefined && !isClaimString(room)) return undefined
  if (publish !== true && consume !== true) return undefined
  return { ...(publish === true ? { publish } : {}), ...(consume === true ? { consume } : {}), ...(room === undefined ? {} : { room }) }
}

const keyOf = (secret: string): Uint8Array => new TextEncoder().encode(secret)

/** Mints a token for a browser client. @throws TypeError for bad options */
export async function createClientToken (options: CreateClientTokenOptions): Promise<string> {
  checkSecret(options.secret)
  if (!isClaimString(options.sub)) throw new TypeError(`sub must be a string of 1-${MAX_CLAIM_LENGTH} characters`)
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000)
  if (!Number.isInteger(iat) || iat < 0) throw new TypeError('issuedAt must be Unix seconds')
  if (!Number.isFinite(options.expiresInSeconds) || options.expiresInSeconds <= 0) throw new TypeError('expiresInSeconds must be > 0')
  if (options.notBefore !== undefined && (!Number.isInteger(options.notBefore) || options.notBefore < 0)) throw new TypeError('notBefore must be Unix seconds')
  const grants = validGrants(options.grants)
  if (grants === undefined) throw new TypeError(`grants must allow publish or consume, with room a string of 1-${MAX_CLAIM_LENGTH} characters if given`)
  const jwt = new SignJWT({ grants })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.ceil(options.expiresInSeconds))
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore)
  return await jwt.sign(keyOf(options.secret))
}

/** Why jose refused a token, in the words a client is told. */
function reasonOf (err: unknown): string {
  if (err instanceof jose.JWTExpired) return 'token expired'
  if (err instanceof jose.JWTClaimValidationFailed && err.claim === 'nbf') return 'token not yet valid'
  if (err instanceof jose.JWSSignatureVerificationFailed) return 'bad token signature'
  if (err instanceof jose.JOSEAlgNotAllowed) return 'token algorithm must be HS256'
  return 'malformed token'
}

/**
 * Checks signature (HS256 only), `exp`, `nbf` (with CLOCK_TOLERANCE_S) and the claims'
 * shape. `now`: Unix seconds, default now.
 */
export async function verifyClientToken (token: string | null | undefined, secret: string, now?: number): Promise<TokenCheck> {
  if (token === null || token === undefined || token === '') return { ok: false, reason: 'missing token' }
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed token' }
  let payload: Record<string, unknown>
  try {
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_S,
      ...(now === undefined ? {} : { currentDate: new Date(now * 1000) })
    }))
  } catch (err) {
    return { ok: false, reason: reasonOf(err) }
  }
  const grants = validGrants(payload.grants)
  if (!isClaimString(payload.sub) || grants === undefined) return { ok: false, reason: 'malformed token' }
  const claims: ClientTokenClaims = { sub: payload.sub, exp: payload.exp as number, grants }
  if (typeof payload.nbf === 'number') claims.nbf = payload.nbf
  if (typeof payload.iat === 'number') claims.iat = payload.iat
  return { ok: true, claims }
}
