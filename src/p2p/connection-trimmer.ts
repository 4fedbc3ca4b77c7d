// Keeps a node's connections near `maxConnections` without closing its door. libp2p refuses
// every new inbound connection once a node holds its maximum, so in a swarm larger than the
// maximum, where DHT walks fill every node's table, a full node turned away newcomers that
// bootstrap from it and requesters that need its producers (at N = 50 with a maximum of
// 32: the joining node never got in, 168 of 400 pulls failed). So libp2p's hard limit is
// set higher (HARD_LIMIT_FACTOR × the maximum) and this trims back to the maximum: the
// lowest-valued connections first (the sum of their peers' tag values), then those with the
// fewest streams, the oldest first. Never a connection younger than GRACE_MS (a newcomer
// must have time to identify and be of use), nor one to a peer with a pipe or one the DHT
// keeps alive (its closest peers: libp2p redials those at once, and in a swarm the
// closeness is mutual, so the other side would redial this node as soon as it is closed):
// a node whose connections are all such stays above the maximum, below the hard limit.
// Closeness is not quite mutual, though: a peer that has this node among its closest redials
// at once a connection this node trims (at N = 50 that loop reopened ≈ 30 connections a
// second swarm-wide, each a Noise handshake, and filled both cores). So a peer that comes
// back within COMEBACK_MS of its trim is kept for WANTED_MS: one wasted trim per such pair.
import { KEEP_ALIVE } from '@libp2p/interface'
import { createLogger, describeError } from '../logger.js'
import { PIPE_PEER_TAG } from './peer-tags.js'
import type { Connection, Libp2p } from '@libp2p/interface'

const log = createLogger('p2p:trim')

/** libp2p's own limit (inbound refused at accept past it) is this many times the maximum. */
export const HARD_LIMIT_FACTOR = 2
/** A connection this young is not trimmed. */
export const GRACE_MS = 10_000
/** The value of a connection never trimmed. */
const KEPT = Infinity
/** Trims run at most this often: connections come in bursts (a DHT walk dials several peers). */
const TRIM_DELAY_MS = 1000
/** A peer connected again this soon after its connection was trimmed is wanted (by it or by us)… */
const COMEBACK_MS = 30_000
/** …and is not trimmed for this long. */
const WANTED_MS = 10 * 60_000

export class ConnectionTrimmer {
  private timer: NodeJS.Timeout | undefined
  private sweep: NodeJS.Timeout | undefined
  private trimming = false
  private stopped = false
  /** Connections closed to keep to the maximum, so far. */
  trimmed = 0
  /** Peers whose connection was trimmed: when (ms since the epoch). */
  private readonly trimmedAt = new Map<string, number>()
  /** Peers that came back after a trim: kept until (ms since the epoch). */
  private readonly wanted = new Map<string, number>()

  constructor (private readonly host: Libp2p, private readonly maxConnections: number) {}

  start (): void {
    this.host.addEventListener('connection:open', this.onOpen)
    // Tags change without connections opening (the DHT's closest peers, pipes closing).
    this.sweep = setInterval(this.check, GRACE_MS)
    this.sweep.unref()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearInterval(this.sweep)
    this.host.removeEventListener('connection:open', this.onOpen)
  }

  private readonly onOpen = (event: CustomEvent<Connection>): void => {
    const peer = event.detail.remotePeer.toString()
    const trimmedAt = this.trimmedAt.get(peer)
    if (trimmedAt !== undefined && Date.now() - trimmedAt <= COMEBACK_MS) {
      this.trimmedAt.delete(peer)
      this.wanted.set(peer, Date.now() + WANTED_MS)
      log.debug('%s came back %d ms after its trim: kept for %d s', peer, Date.now() - trimmedAt, WANTED_MS / 1000)
    }
    this.check()
  }

  private readonly check = (): void => {
    this.forgetPast(Date.now())
    if (this.host.getConnections().length > this.maxConnections) this.schedule(TRIM_DELAY_MS)
  }

  private schedule (ms: number): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.trim()
    }, ms)
    this.timer.unref()
  }

  /** Closes connections past the maximum now (what the timers run). */
  async trim (): Promise<void> {
    if (this.trimming || this.stopped) return
    this.trimming = true
    try {
      const connections = this.host.getConnections()
      const excess = connections.length - this.maxConnections
      if (excess <= 0) return
      const now = Date.now()
      const old = connections.filter((c) => now - c.timeline.open >= GRACE_MS)
      const ranked = (await Promise.all(old.map(async (c) => ({ c, value: await this.valueOf(c) }))))
        .filter((r) => r.value !== KEPT)
      ranked.sort((a, b) => a.value - b.value || a.c.streams.length - b.c.streams.length || a.c.timeline.open - b.c.timeline.open)
      const victims = ranked.slice(0, excess)
      for (const { c } of victims) {
        this.trimmed++
        this.trimmedAt.set(c.remotePeer.toString(), now)
        log.debug('closing the connection with %s (%d connections, at most %d kept)', c.remotePeer.toString(), connections.length, this.maxConnections)
        c.close().catch((err: Error) => c.abort(err))
      }
      // Those too young to go now may be over the maximum still once they are old enough.
      const young = connections.filter((c) => now - c.timeline.open < GRACE_MS).map((c) => c.timeline.open)
      if (victims.length < excess && young.length > 0) this.schedule(Math.max(TRIM_DELAY_MS, Math.min(...young) + GRACE_MS - now))
    } catch (err) {
      log.debug('trim failed: %s', describeError(err))
    } finally {
      this.trimming = false
    }
  }

  /** Drops trims too old to count as a comeback and wants that expired. */
  private forgetPast (now: number): void {
    for (const [peer, at] of this.trimmedAt) if (now - at > COMEBACK_MS) this.trimmedAt.delete(peer)
    for (const [peer, until] of this.wanted) if (until <= now) this.wanted.delete(peer)
  }

  /** The sum of the values of the peer's tags (as libp2p's own pruning weighs connections), or KEPT. */
  private async valueOf (connection: Connection): Promise<number> {
    if ((this.wanted.get(connection.remotePeer.toString()) ?? 0) > Date.now()) return KEPT
    try {
      const peer = await this.host.peerStore.get(connection.remotePeer)
      let value = 0
      for (const [name, tag] of peer.tags) {
        if (name === PIPE_PEER_TAG || name.startsWith(KEEP_ALIVE)) return KEPT
        value += tag.value
      }
      return value
    } catch {
      return 0
    }
  }
}
