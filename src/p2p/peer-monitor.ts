// Liveness and round-trip times of connected peers, measured with Yamux pings
// (liveness-ping.ts says why not libp2p's ping protocol). It replaces
// libp2p's connection monitor, which aborts a connection on any single failed ping,
// including the stream-limit error its own earlier slow ping leaves behind (js-libp2p
// #3464): under load that dropped healthy connections, and with them the pipes and
// requests under way. Here a peer is given up only after consecutive failed pings.
import { setTimeout as delay } from 'node:timers/promises'
import { pingPeer } from './liveness-ping.js'
import type { Host } from './host.js'
import type { IdentifyResult, PeerId } from '@libp2p/interface'

export interface PeerMonitorInit {
  /**
   * A ping to every connected peer per period; a ping gets one period to answer, and one
   * that does not is followed by the next as soon as that period is over.
   */
  intervalMs: number
  /** Consecutive failed pings after which the peer's connections are closed. */
  failuresBeforeClose: number
  /**
   * Evidence of life other than pings (media flowing from the peer): a peer for which it
   * is true is not given up, whatever its pings do (its Node.js process may be busy or
   * frozen while its mediasoup worker forwards).
   */
  isAlive?: (peerId: string) => boolean | Promise<boolean>
  /** Gives a peer up (closes its connections); by default its connections are aborted. */
  giveUp?: (peerId: string, reason: string) => void
}

interface PeerState {
  /** The last RTT_SAMPLES ping times, oldest first. */
  samples: number[]
  failures: number
  pinging: boolean
}

/**
 * Ping times kept per peer; its RTT is their minimum. A ping is timed on both nodes' event
 * loops, so a busy loop only ever adds to it: the smallest recent sample is the closest to
 * the network's. With the default ping period (60 s) the window is 5 minutes.
 */
export const RTT_SAMPLES = 5

/** Appends a sample to a window of the last `size` ones. */
export function keepRecent (window: number[], sample: number, size = RTT_SAMPLES): void {
  window.push(sample)
  if (window.length > size) window.splice(0, window.length - size)
}

/**
 * A period's pings are spread over this many slots of it, each peer in its own slot (by its
 * id): pinging every peer at once made a burst of CPU once a period, 10 % of the CPU of a
 * 50-node swarm, and the lookups that fell into it waited.
 */
export const PING_SLOTS = 10

/** The slot of a period in which `peerId` is pinged (0 to PING_SLOTS - 1): a hash of its id, stable over time. */
export function pingSlot (peerId: string): number {
  let hash = 0
  for (let i = 0; i < peerId.length; i++) hash = (hash * 31 + peerId.charCodeAt(i)) >>> 0
  return hash % PING_SLOTS
}

export class PeerMonitor {
  private readonly peers = new Map<string, PeerState>()
  private timer: NodeJS.Timeout | undefined
  private slot = 0
  private readonly aborter = new AbortController()

  constructor (private readonly host: Host, private readonly init: PeerMonitorInit) {}

  start (): void {
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.host.addEventListener('peer:identify', this.onIdentify)
    this.timer = setInterval(() => this.round(), Math.max(1, this.init.intervalMs / PING_SLOTS))
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.aborter.abort()
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    this.host.removeEventListener('peer:identify', this.onIdentify)
    this.peers.clear()
  }

  /** RTTs of connected peers that answered a ping (at most `limit`): the minimum of their last RTT_SAMPLES pings. */
  rtts (limit = Infinity): Record<string, number> {
    const rtts: Record<string, number> = {}
    let count = 0
    for (const [peerId, state] of this.peers) {
      if (state.samples.length === 0 || count >= limit) continue
      rtts[peerId] = Math.min(...state.samples)
      count++
    }
    return rtts
  }

  private readonly onDisconnect = (event: CustomEvent<{ toString: () => string }>): void => {
    this.peers.delete(event.detail.toString())
  }

  /** A new peer is measured at once, not a period later: relays are ranked by RTT. */
  private readonly onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    this.check(event.detail.peerId)
  }

  /** Pings the connected peers of the next slot: each peer once a period. */
  private round (): void {
    const slot = this.slot
    this.slot = (slot + 1) % PING_SLOTS
    const due = new Map<string, PeerId>()
    for (const connection of this.host.getConnections()) {
      if (connection.status !== 'open') continue
      const peerId = connection.remotePeer.toString()
      if (!due.has(peerId) && pingSlot(peerId) === slot) due.set(peerId, connection.remotePeer)
    }
    for (const peer of due.values()) this.check(peer)
  }

  private check (peer: PeerId): void {
    if (!this.host.getConnections(peer).some((c) => c.status === 'open')) return
    const peerId = peer.toString()
    let state = this.peers.get(peerId)
    if (state === undefined) this.peers.set(peerId, state = { samples: [], failures: 0, pinging: false })
    // One ping per peer at a time.
    if (!state.pinging) void this.ping(peer, state)
  }

  /** Pings until one answers or `failuresBeforeClose` in a row did not (then closes). */
  private async ping (peer: PeerId, state: PeerState): Promise<void> {
    const peerId = peer.toString()
    // Ends when the peer is gone, or disconnected and back (a new loop then owns it).
    const current = (): boolean => !this.aborter.signal.aborted && this.peers.get(peerId) === state &&
      this.host.getConnections(peer).some((c) => c.status === 'open')
    state.pinging = true
    try {
      while (current()) {
        const started = performance.now()
        const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.init.intervalMs)])
        try {
          const rtt = await pingPeer(this.host, peer, signal)
          keepRecent(state.samples, rtt)
          state.failures = 0
          return
        } catch (err) {
          // A peer that does not speak ping is alive: it answered the protocol negotiation.
          if ((err as Error).name === 'UnsupportedProtocolError') {
            state.failures = 0
            return
          }
          if (!current()) return
          if (await this.init.isAlive?.(peerId) === true) {
            state.failures = 0
            return
          }
          if (++state.failures >= this.init.failuresBeforeClose) {
            this.peers.delete(peerId)
            if (this.init.giveUp !== undefined) this.init.giveUp(peerId, `${state.failures} pings unanswered`)
            else for (const connection of this.host.getConnections(peer)) connection.abort(err as Error)
            return
          }
          // A ping that failed at once (a stream error, not silence) gets its period before
          // the next one, so two quick errors do not drop a peer within milliseconds.
          const restMs = this.init.intervalMs - (performance.now() - started)
          // Aborted only by stop(): the loop then ends at the next check.
          if (restMs > 0) await delay(restMs, undefined, { signal: this.aborter.signal }).catch(() => {})
        }
      }
    } finally {
      state.pinging = false
    }
  }
}
