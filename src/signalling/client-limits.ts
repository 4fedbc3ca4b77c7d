// Limits of the client signalling (docs/client-signalling.md#limits): what one client, one
// address and all clients together may ask of a node, so that a flood of connections,
// requests or lookups of unknown producers costs the node a bounded amount and leaves
// room for legitimate clients. Every refusal is counted by reason (for the metrics).
import net from 'node:net'
import type http from 'node:http'
import { DEFAULT_MAX_MESSAGE_BYTES, SignallingError } from './messages.js'
import type { RequestId } from './messages.js'

export interface ClientSignallingLimits {
  /** Largest message answered; bigger ones get a TooLarge reply. Default 64 KiB. */
  maxMessageBytes: number
  /** WebRtcTransports per connection. Default 4. */
  maxTransports: number
  /** Producers per connection. Default 16. */
  maxProducers: number
  /** Consumers per connection. Default 500 (about what one mediasoup worker serves). */
  maxConsumers: number
  /** Data producers per connection. Default 16. */
  maxDataProducers: number
  /** Data consumers per connection. Default 500. */
  maxDataConsumers: number
  /** Requests of one connection being processed at once. Default 32. */
  maxPendingRequests: number
  /** Requests per second one connection may send, on average (token bucket refill). Default 50. */
  requestsPerSecond: number
  /** Requests one connection may send at once after a quiet time (token bucket size). Default 100. */
  requestBurst: number
  /** Open connections of all clients. Default 1000. */
  maxConnections: number
  /** Open connections from one IP address (IPv6: one /64). Default 16. */
  maxConnectionsPerIp: number
  /**
   * `consume` requests of one connection waiting for a producer not in its router to be
   * found and brought in (`resolveProducer`: a swarm lookup) at once. Default 2.
   */
  maxLookupsPerConnection: number
  /**
   * Such lookups of the connections of one IP address (IPv6: one /64) at once, those of
   * connections already closed included (a lookup runs to its end). Default 8.
   */
  maxLookupsPerIp: number
  /** Such lookups of all clients at once. Default 128. */
  maxLookups: number
  /**
   * Open connections of one token subject (`sub`), from whatever addresses; only with
   * `authenticate`. Default 16: one client's devices and tabs, not a botnet holding one token.
   */
  maxConnectionsPerSubject: number
  /** Lookups (see maxLookupsPerIp) of the connections of one token subject at once; only with `authenticate`. Default 8. */
  maxLookupsPerSubject: number
}

export const DEFAULT_LIMITS: ClientSignallingLimits = {
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxTransports: 4,
  maxProducers: 16,
  maxConsumers: 500,
  maxDataProducers: 16,
  maxDataConsumers: 500,
  maxPendingRequests: 32,
  requestsPerSecond: 50,
  requestBurst: 100,
  maxConnections: 1000,
  maxConnectionsPerIp: 16,
  maxLookupsPerConnection: 2,
  maxLookupsPerIp: 8,
  maxLookups: 128,
  maxConnectionsPerSubject: 16,
  maxLookupsPerSubject: 8
}

/**
 * Why the signalling refused a connection or a request (the `reason` label of
 * mediasoup_swarm_signalling_refusals_total):
 * - `origin`: the connection's Origin header is not in `allowedOrigins`
 * - `unauthorized`: token missing, invalid or expired
 * - `connections`, `connections-per-ip`: maxConnections, maxConnectionsPerIp
 * - `request-rate`: requestsPerSecond / requestBurst
 * - `pending-requests`, `transports`, `producers`, `consumers`, `data-producers`,
 *   `data-consumers`: the per-connection limits
 * - `lookups`, `lookups-per-ip`, `lookups-per-connection`: maxLookups, maxLookupsPerIp,
 *   maxLookupsPerConnection
 * - `connections-per-subject`, `lookups-per-subject`: maxConnectionsPerSubject,
 *   maxLookupsPerSubject
 */
export const REFUSAL_REASONS = [
  'origin', 'unauthorized', 'connections', 'connections-per-ip', 'request-rate', 'pending-requests',
  'transports', 'producers', 'consumers', 'lookups', 'lookups-per-ip', 'lookups-per-connection',
  'connections-per-subject', 'lookups-per-subject', 'data-producers', 'data-consumers'
] as const

export type RefusalReason = typeof REFUSAL_REASONS[number]

/** Replies and notifications waiting to be sent to one client past which it is disconnected: it does not read them. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/** Close code of a connection whose Origin is not allowed (like HTTP 403). */
export const CLOSE_FORBIDDEN_ORIGIN = 4403
/** Close code of a connection past maxConnections or maxConnectionsPerIp (like HTTP 429). */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429

/** A refused request: the error the client gets, and the reason it is counted under. */
export class Refusal extends SignallingError {
  constructor (readonly reason: RefusalReason, message: string, requestId: RequestId | null = null) {
    super(reason === 'request-rate' ? 'RateLimited' : 'LimitExceeded', message, requestId)
  }
}

export function checkLimits (limits: ClientSignallingLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`limits.${name} must be a positive number`)
  }
}

/**
 * The address a connection counts against: IPv4 (IPv4-mapped IPv6 included) as is, IPv6
 * by its /64, which one host usually holds whole.
 */
export function addressKey (address: string | undefined): string {
  if (address === undefined) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1] as string
  if (net.isIPv6(address)) {
    const [head = '', tail = ''] = address.split('::')
    const left = head === '' ? [] : head.split(':')
    const right = tail === '' ? [] : tail.split(':')
    const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
    return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`
  }
  return address
}

/** Proxies trusted by default: one on the same host. */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['127.0.0.1', '::1']

/**
 * The client's address: the socket's, or, when the socket comes from a trusted proxy, the
 * last address of its X-Forwarded-For header (the one that proxy saw).
 */
export function clientAddress (request: http.IncomingMessage, trustedProxies: ReadonlySet<string>): string | undefined {
  const socketAddress = request.socket.remoteAddress
  if (socketAddress === undefined || !trustedProxies.has(addressKey(socketAddress))) return socketAddress
  const header = request.headers['x-forwarded-for']
  const last = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').at(-1)?.trim() ?? ''
  return net.isIP(last) === 0 ? socketAddress : last
}

export type Admitted = { ok: true, release: () => void } | { ok: false, reason: RefusalReason, code: number, message: string }

/** Counts in use per key (an address, a token subject); keys at zero are dropped, so the map holds only what is in use. */
class KeyedCount {
  private readonly counts = new Map<string, number>()

  of (key: string): number {
    return this.counts.get(key) ?? 0
  }

  /** Takes one for `key`; the result gives it back (once). */
  take (key: string): () => void {
    this.counts.set(key, this.of(key) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = this.of(key) - 1
      if (left <= 0) this.counts.delete(key)
      else this.counts.set(key, left)
    }
  }
}

/** The node-wide side of the limits: connections (in all, per address, per token subject), lookups, refusal counts. */
export class SignallingAdmission {
  readonly refusals = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>
  private connections = 0
  private readonly perAddress = new KeyedCount()
  private readonly perSubject = new KeyedCount()
  private lookups = 0
  private readonly lookupsPerAddress = new KeyedCount()
  private readonly lookupsPerSubject = new KeyedCount()
  private readonly origins: ReadonlySet<string> | undefined
  private readonly trustedProxies: ReadonlySet<string>

  constructor (readonly limits: ClientSignallingLimits, allowedOrigins: readonly string[] | undefined, trustedProxies: readonly string[] = DEFAULT_TRUSTED_PROXIES) {
    checkLimits(limits)
    if (!Array.isArray(trustedProxies) || trustedProxies.some((a) => net.isIP(a) === 0)) throw new TypeError('trustedProxies must be a list of IP addresses')
    this.trustedProxies = new Set(trustedProxies.map(addressKey))
    if (allowedOrigins !== undefined) {
      if (!Array.isArray(allowedOrigins) || allowedOrigins.some((o) => typeof o !== 'string' || o === '')) {
        throw new TypeError('allowedOrigins must be a list of origins like https://app.example')
      }
      this.origins = new Set(allowedOrigins.map((o) => o.toLowerCase()))
    }
  }

  count (reason: RefusalReason): void {
    this.refusals[reason]++
  }

  /** Admits a new connection, or says why not; `release` when it closes. */
  admit (request: http.IncomingMessage): Admitted {
    const origin = request.headers.origin
    if (this.origins !== undefined && (origin === undefined || !this.origins.has(origin.toLowerCase()))) {
      return this.refuse('origin', CLOSE_FORBIDDEN_ORIGIN, `origin not allowed: ${origin ?? '(none)'}`)
    }
    if (this.connections >= this.limits.maxConnections) {
      return this.refuse('connections', CLOSE_TOO_MANY_CONNECTIONS, `too many connections (${this.limits.maxConnections})`)
    }
    const key = addressKey(clientAddress(request, this.trustedProxies))
    if (this.perAddress.of(key) >= this.limits.maxConnectionsPerIp) {
      return this.refuse('connections-per-ip', CLOSE_TOO_MANY_CONNECTIONS, `too many connections from your address (${this.limits.maxConnectionsPerIp})`)
    }
    this.connections++
    const releaseAddress = this.perAddress.take(key)
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        this.connections--
        releaseAddress()
      }
    }
  }

  /**
   * Admits a connection whose token names `subject` (once the token is verified); call the
   * result when it closes. @throws Refusal past maxConnectionsPerSubject (counted here)
   */
  admitSubject (subject: string): () => void {
    if (this.perSubject.of(subject) >= this.limits.maxConnectionsPerSubject) {
      this.count('connections-per-subject')
      throw new Refusal('connections-per-subject', `too many connections with your token's subject (${this.limits.maxConnectionsPerSubject})`)
    }
    return this.perSubject.take(subject)
  }

  /**
   * A lookup slot of the client's address, of its token subject (when it has one) and of
   * the node; call the result when the lookup ends. @throws Refusal past
   * maxLookupsPerIp, maxLookupsPerSubject or maxLookups (counted by whoever answers it)
   */
  lookup (request: http.IncomingMessage, subject: string | undefined): () => void {
    const key = addressKey(clientAddress(request, this.trustedProxies))
    if (this.lookupsPerAddress.of(key) >= this.limits.maxLookupsPerIp) {
      throw new Refusal('lookups-per-ip', `at most ${this.limits.maxLookupsPerIp} consumes of producers not in this node at once from your address; try again`)
    }
    if (subject !== undefined && this.lookupsPerSubject.of(subject) >= this.limits.maxLookupsPerSubject) {
      throw new Refusal('lookups-per-subject', `at most ${this.limits.maxLookupsPerSubject} consumes of producers not in this node at once with your token's subject; try again`)
    }
    if (this.lookups >= this.limits.maxLookups) {
      throw new Refusal('lookups', `the node is looking up ${this.limits.maxLookups} producers for its clients already; try again`)
    }
    this.lookups++
    const releaseAddress = this.lookupsPerAddress.take(key)
    const releaseSubject = subject === undefined ? undefined : this.lookupsPerSubject.take(subject)
    let done = false
    return () => {
      if (done) return
      done = true
      this.lookups--
      releaseAddress()
      releaseSubject?.()
    }
  }

  private refuse (reason: RefusalReason, code: number, message: string): Admitted {
    this.count(reason)
    return { ok: false, reason, code, message }
  }
}
