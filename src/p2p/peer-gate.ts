// Who may hold a libp2p connection with this node, decided in libp2p's connection gater
// before any protocol runs: the peer allowlist, peers in quarantine (given up, or strangers
// that do not speak this swarm's protocols), and bounds per IP address (new connections a
// second, connections still in their handshake) and on connections per peer. Inbound
// refusals are counted by reason (the metric mediasoup_swarm_connection_refusals_total) and
// logged at debug level.
import { getNetConfig, isNetworkAddress } from '@libp2p/utils'
import { createLogger } from '../logger.js'
import { TokenBucket } from '../protocol/token-bucket.js'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId, StreamCloseEvent } from '@libp2p/interface'

const log = createLogger('p2p:gate')

/**
 * Why an inbound connection was refused:
 * - `notallowed`: its peer is not on the allowlist
 * - `quarantined`: its peer was given up (dead, frozen) a moment ago, or is a stranger
 * - `stranger`: its peer completed identify without this swarm's DHT protocol (closed then)
 * - `rate`: its IP address opened too many connections in the last second
 * - `pending`: its IP address has too many connections in their handshake already
 * - `perpeer`: its peer has too many connections with this node already
 * - `handshake`: the handshake failed or timed out (wrong or missing swarm key, idle or broken connection)
 */
export const REFUSAL_REASONS = ['notallowed', 'quarantined', 'stranger', 'rate', 'pending', 'perpeer', 'handshake'] as const
export type RefusalReason = typeof REFUSAL_REASONS[number]

/** Peers in quarantine at most: a flood of new identities must not grow the map without end. */
const MAX_QUARANTINED = 4096
/** A stranger is not let back for this long. */
export const STRANGER_QUARANTINE_MS = 10 * 60_000
/** At most one warning about failed inbound handshakes per minute. */
const HANDSHAKE_WARNING_INTERVAL_MS = 60_000
/** A peer whose identify has not completed this long after it connected is treated as a stranger. */
export const IDENTIFY_GRACE_MS = 10_000
/** An outbound connection closed by the peer this soon after its handshake, before identify, was refused there. */
const REFUSED_WITHIN_MS = 2000
/** One such warning per peer per minute. */
const REFUSED_WARNING_INTERVAL_MS = 60_000
/**
 * A peer that refused this node is not dialled again for 1 s, then 2 s, 4 s… at most 8 s
 * while it goes on refusing: libp2p redials the DHT's closest peers as soon as a connection
 * closes, which against a refusing peer is a handshake loop many times a second (and trips
 * that peer's limits on inbound connections per address).
 */
const REFUSED_BACKOFF_FIRST_MS = 1000
const REFUSED_BACKOFF_LAST_MS = 8000

export interface PeerGateInit {
  /** Allowed peer ids; undefined: any peer. */
  allowPeers?: string[]
  /** Peer ids allowed whatever the allowlist says (those of the bootstrap addresses). */
  alwaysAllowed: string[]
  pendingInboundPerIp: number
  inboundPerIpPerSecond: number
  perPeer: number
}

export class PeerGate {
  private allowed: Set<string> | undefined
  private readonly alwaysAllowed: Set<string>
  /** Peer id → until when (performance.now()); oldest first (insertion order). */
  private readonly quarantined = new Map<string, number>()
  /** Peers that refused this node: not dialled until `until`; `ms` the pause last given. */
  private readonly dialBackoff = new Map<string, { until: number, ms: number }>()
  private readonly refusals = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>
  private readonly pendingByIp = new Map<string, number>()
  /** New inbound connections per IP: a bucket of inboundPerIpPerSecond tokens each; oldest first. */
  private readonly rateByIp = new Map<string, TokenBucket>()
  /** Inbound connections in their handshake, with their IP. */
  private readonly pending = new WeakMap<MultiaddrConnection, string>()
  private host: Libp2p | undefined
  /** Inbound handshakes failed since the last warning about them, and when that was (performance.now()). */
  private handshakeFailures = 0
  private handshakeWarnedAt = -Infinity

  constructor (private readonly init: PeerGateInit) {
    this.allowed = init.allowPeers === undefined ? undefined : new Set(init.allowPeers)
    this.alwaysAllowed = new Set(init.alwaysAllowed)
  }

  /** Inbound connections refused so far, by reason. */
  get refusalCounts (): Record<RefusalReason, number> {
    return { ...this.refusals }
  }

  /** Allowed peer ids now; undefined: any peer. */
  get allowedPeers (): string[] | undefined {
    return this.allowed === undefined ? undefined : [...this.allowed]
  }

  /** Replaces the allowlist (undefined: any peer); connections with peers no longer allowed are closed. */
  setAllowed (peerIds: string[] | undefined): void {
    this.allowed = peerIds === undefined ? undefined : new Set(peerIds)
    for (const connection of this.host?.getConnections() ?? []) {
      const peerId = connection.remotePeer.toString()
      if (!this.isAllowed(peerId)) {
        log.info('closing the connection with %s: no longer on the allowlist', peerId)
        connection.abort(new Error('peer no longer on the allowlist'))
      }
    }
  }

  /** Keeps `peerId` out, either way, for `ms`. */
  quarantine (peerId: string, ms: number): void {
    this.quarantined.delete(peerId)
    this.quarantined.set(peerId, performance.now() + ms)
    if (this.quarantined.size > MAX_QUARANTINED) this.quarantined.delete(this.quarantined.keys().next().value!)
  }

  private isAllowed (peerId: string): boolean {
    return this.allowed === undefined || this.allowed.has(peerId) || this.alwaysAllowed.has(peerId)
  }

  private inQuarantine (peerId: string): boolean {
    const until = this.quarantined.get(peerId)
    if (until === undefined) return false
    if (performance.now() < until) return true
    this.quarantined.delete(peerId)
    return false
  }

  /** True while `peerId`, which refused this node, is not to be dialled. */
  private backingOff (peerId: string): boolean {
    const backoff = this.dialBackoff.get(peerId)
    return backoff !== undefined && performance.now() < backoff.until
  }

  private refusedBy (peerId: string): number {
    const last = this.dialBackoff.get(peerId)
    const ms = last === undefined ? REFUSED_BACKOFF_FIRST_MS : Math.min(last.ms * 2, REFUSED_BACKOFF_LAST_MS)
    this.dialBackoff.delete(peerId)
    this.dialBackoff.set(peerId, { until: performance.now() + ms, ms })
    if (this.dialBackoff.size > MAX_QUARANTINED) this.dialBackoff.delete(this.dialBackoff.keys().next().value!)
    return ms
  }

  /** Why `peerId` may not connect now; undefined: it may. */
  private reasonToRefuse (peerId: string): RefusalReason | undefined {
    if (!this.isAllowed(peerId)) return 'notallowed'
    if (this.inQuarantine(peerId)) return 'quarantined'
    return undefined
  }

  private refuse (reason: RefusalReason, what: string): true {
    this.refusals[reason]++
    log.debug('refused %s: %s', what, reason)
    return true
  }

  /**
   * Says why an inbound handshake failed: at once the first time, then at most once per
   * HANDSHAKE_WARNING_INTERVAL_MS with the count meanwhile (a flood must not flood the log).
   */
  private warnHandshakeFailed (from: string, error: Error | undefined): void {
    this.handshakeFailures++
    const now = performance.now()
    if (now - this.handshakeWarnedAt < HANDSHAKE_WARNING_INTERVAL_MS) return
    const count = this.handshakeFailures
    this.handshakeFailures = 0
    this.handshakeWarnedAt = now
    const also = count > 1 ? ` (${count} handshakes failed since the last such line)` : ''
    const timedOut = error === undefined || error.name === 'TimeoutError' || error.name === 'AbortError'
    if (timedOut) log.warn('a connection from %s did not complete its handshake in time: an idle client or port scanner, or a node with a different swarm key (or none): check swarmKeyFile, --swarm-key%s', from, also)
    else log.warn('a connection from %s failed its handshake (%s): most likely a node with a different swarm key, or none (check swarmKeyFile, --swarm-key on both)%s', from, error.message.split('\n')[0], also)
  }

  /** The handshake of `maConn` is over (done or failed): it no longer counts toward its IP's. */
  private endPending (maConn: MultiaddrConnection): boolean {
    const ip = this.pending.get(maConn)
    if (ip === undefined) return false
    this.pending.delete(maConn)
    const left = (this.pendingByIp.get(ip) ?? 1) - 1
    if (left === 0) this.pendingByIp.delete(ip)
    else this.pendingByIp.set(ip, left)
    return true
  }

  /** The bucket of new inbound connections from `ip`; full buckets (quiet IPs) are forgotten first. */
  private rateOf (ip: string): TokenBucket {
    let bucket = this.rateByIp.get(ip)
    if (bucket !== undefined) return bucket
    if (this.rateByIp.size >= MAX_QUARANTINED) {
      for (const [other, b] of this.rateByIp) if (b.full) this.rateByIp.delete(other)
      // Still full of busy IPs (a flood from many addresses): the oldest goes.
      if (this.rateByIp.size >= MAX_QUARANTINED) this.rateByIp.delete(this.rateByIp.keys().next().value!)
    }
    const perSecond = this.init.inboundPerIpPerSecond
    this.rateByIp.set(ip, bucket = new TokenBucket(perSecond, perSecond))
    return bucket
  }

  /** The gater to give libp2p. */
  gater (): ConnectionGater {
    return {
      denyDialPeer: (peerId: PeerId) => this.reasonToRefuse(peerId.toString()) !== undefined || this.backingOff(peerId.toString()),
      denyInboundConnection: (maConn: MultiaddrConnection) => {
        if (!isNetworkAddress(maConn.remoteAddr)) return false
        const ip = getNetConfig(maConn.remoteAddr).host
        const now = this.pendingByIp.get(ip) ?? 0
        // Nodes of one host (tests, the demo) may all dial at once, from 127.0.0.1: not limited.
        if (!isLocalHost(ip)) {
          if (!this.rateOf(ip).take()) return this.refuse('rate', `a connection from ${ip}`)
          if (now >= this.init.pendingInboundPerIp) return this.refuse('pending', `a connection from ${ip}`)
        }
        this.pendingByIp.set(ip, now + 1)
        this.pending.set(maConn, ip)
        // A handshake that ends without reaching the encrypted stage failed or timed out.
        maConn.addEventListener('close', (event) => {
          if (!this.endPending(maConn)) return
          this.refuse('handshake', `a connection from ${ip}`)
          this.warnHandshakeFailed(maConn.remoteAddr.toString(), (event as StreamCloseEvent).error)
        }, { once: true })
        return false
      },
      denyInboundEncryptedConnection: (peerId: PeerId, maConn: MultiaddrConnection) => {
        this.endPending(maConn)
        const id = peerId.toString()
        const reason = this.reasonToRefuse(id)
        if (reason !== undefined) return this.refuse(reason, `peer ${id} from ${maConn.remoteAddr.toString()}`)
        if ((this.host?.getConnections(peerId).length ?? 0) >= this.init.perPeer) return this.refuse('perpeer', `peer ${id}`)
        return false
      },
      denyOutboundEncryptedConnection: (peerId: PeerId) => this.reasonToRefuse(peerId.toString()) !== undefined || this.backingOff(peerId.toString())
    }
  }

  /**
   * Watches `host`'s connections: a peer that connected to this node and whose identify
   * shows no `memberProtocol`, or that has not completed identify within
   * IDENTIFY_GRACE_MS, is no member of this swarm: its inbound connections are closed and
   * it is kept out for STRANGER_QUARANTINE_MS, so that strangers cannot hold the places of
   * newcomers.
   */
  watch (host: Libp2p, memberProtocol: string): void {
    this.host = host
    const members = new Set<string>()
    const evict = (peerId: string, why: string): void => {
      if (members.has(peerId) || this.alwaysAllowed.has(peerId) || this.allowed?.has(peerId) === true) return
      // Only connections it opened: one this node opened (an application's own use of
      // node.libp2p) is this node's choice.
      const connections = host.getConnections().filter((c) => c.remotePeer.toString() === peerId && c.direction === 'inbound')
      if (connections.length === 0) return
      this.quarantine(peerId, STRANGER_QUARANTINE_MS)
      this.refuse('stranger', `peer ${peerId} (${why})`)
      for (const c of connections) c.abort(new Error(`not a member of this swarm: ${why}`))
    }
    // Connections whose identify completed: one that closes later was not refused. (`members`
    // alone missed it: libp2p tells peer:disconnect before connection:close, so a peer's last
    // connection has already taken it out by then.)
    const identified = new WeakSet<Connection>()
    host.addEventListener('peer:identify', (event) => {
      const peerId = event.detail.peerId.toString()
      identified.add(event.detail.connection)
      if (event.detail.protocols.includes(memberProtocol)) {
        members.add(peerId)
        this.dialBackoff.delete(peerId)
      } else evict(peerId, 'identify lists no swarm protocol')
    })
    host.addEventListener('peer:disconnect', (event) => members.delete(event.detail.toString()))
    // The refusing side says nothing: a connection we opened that closes before identify
    // is most likely one the peer's gater refused.
    const warned = new Map<string, number>()
    host.addEventListener('connection:close', (event) => {
      const connection = event.detail
      const peerId = connection.remotePeer.toString()
      const openMs = Date.now() - connection.timeline.open
      if (connection.direction !== 'outbound' || identified.has(connection) || members.has(peerId) || openMs > REFUSED_WITHIN_MS || host.status !== 'started') return
      const backoffMs = this.refusedBy(peerId)
      if (performance.now() - (warned.get(peerId) ?? -Infinity) < REFUSED_WARNING_INTERVAL_MS) return
      warned.set(peerId, performance.now())
      if (warned.size > MAX_QUARANTINED) warned.delete(warned.keys().next().value!)
      log.warn('peer %s closed the connection %d ms after its handshake, before identify: this node is probably not on its allowlist (--allow-peer), or in quarantine there; not dialled again for %d ms', peerId, openMs, backoffMs)
    })
    host.addEventListener('connection:open', (event) => {
      const connection = event.detail
      const peerId = connection.remotePeer.toString()
      // Handshakes of one peer that ran side by side all passed the gater's count.
      if (connection.direction === 'inbound' && host.getConnections(connection.remotePeer).length > this.init.perPeer) {
        this.refuse('perpeer', `peer ${peerId}`)
        connection.abort(new Error(`over ${this.init.perPeer} connections with one peer`))
        return
      }
      if (members.has(peerId)) return
      setTimeout(() => {
        if (host.status !== 'started' || members.has(peerId)) return
        // An identify of an earlier connection counts: this one's may have failed on a busy link.
        host.peerStore.get(connection.remotePeer).then((peer) => peer.protocols.includes(memberProtocol), () => false).then((member) => {
          if (member) members.add(peerId)
          else if (host.status === 'started') evict(peerId, `no identify within ${IDENTIFY_GRACE_MS} ms`)
        }, () => {})
      }, IDENTIFY_GRACE_MS).unref()
    })
  }
}

/** The host's own loopback address (other 127.0.0.0/8 addresses stand for other hosts in benchmarks). */
function isLocalHost (ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1'
}
