// Keeps a node in its swarm. Until one of its bootstrap nodes has answered (at start when
// they are not up yet), and again whenever it has no connection at all (its last peer went
// away), it dials its bootstrap addresses, backing off from `minDelayMs` to `maxDelayMs`,
// until one answers or the node stops. Then one connection is enough: the DHT finds every
// other node through it. A connection from another node does not count before that: a
// newcomer that joined through this node knows no more of the swarm than it does, and the
// two would stay an island of their own (seen at N = 25: 3 nodes apart for good, a fifth
// of the pulls failing).
import { multiaddr } from '@multiformats/multiaddr'
import { BootstrapError } from '../errors.js'
import type { Host } from './host.js'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A connection that ends this soon after it opened was refused by the peer. */
const REFUSED_WITHIN_MS = 2000

export interface BootstrapKeeperInit {
  /** Multiaddrs to dial; those naming this node's own peer id are ignored. */
  addresses: string[]
  dialTimeoutMs: number
  minDelayMs: number
  maxDelayMs: number
  /**
   * First retry after a connection the peer closed right after the handshake (it refuses
   * this node: most often a quarantine of a peer it gave up, which ends after this long);
   * doubled on each refusal in a row, up to maxDelayMs.
   */
  refusedDelayMs: number
  /** Every round in which no address answered (the node stays alone until the next one). */
  onFailure: (err: BootstrapError) => void
}

export class BootstrapKeeper {
  private readonly addresses: string[]
  private delayMs: number
  private refusedDelayMs: number
  private timer: NodeJS.Timeout | undefined
  private dialing = false
  /** How far this round's dials got, by address (without /p2p/…). */
  private readonly reached = new Map<string, DialStage>()
  /** The round of dials under way, if any. */
  private underWay: Promise<void> | undefined
  private readonly aborter = new AbortController()
  /** When each connected peer connected (performance.now()). */
  private readonly connectedAt = new Map<string, number>()
  /** Peer ids named by the bootstrap addresses. */
  private readonly bootstrapPeers: Set<string>
  /** A bootstrap node answered since the node was last without any connection. */
  private joined = false

  constructor (private readonly host: Host, private readonly init: BootstrapKeeperInit) {
    const self = host.peerId.toString()
    const peerOf = (address: string): string | undefined => multiaddr(address).getComponents().find((c) => c.name === 'p2p')?.value
    this.addresses = init.addresses.filter((a) => peerOf(a) !== self)
    this.bootstrapPeers = new Set(this.addresses.map(peerOf).filter((p) => p !== undefined))
    this.delayMs = init.minDelayMs
    this.refusedDelayMs = init.refusedDelayMs
  }

  /** Addresses it dials (its own aside): 0 for a swarm's first node. */
  get addressCount (): number {
    return this.addresses.length
  }

  /**
   * An outbound connection to `remoteAddr` got this far (told by the connection gater):
   * `connected` once TCP is open (denyOutboundConnection), `encrypted` once the swarm key
   * and Noise handshakes passed (denyOutboundEncryptedConnection). A dial of this round that
   * fails later failed there, not on the way.
   */
  noteStage (remoteAddr: Multiaddr, stage: DialStage): void {
    if (this.dialing) this.reached.set(withoutPeerId(remoteAddr.toString()), stage)
  }

  /** Resolves once the round of dials under way, if any, is over (connected or not). */
  async settled (): Promise<void> {
    // A round's own failure surfaces where it is started (an unhandled rejection): a waiter only needs it over.
    await this.underWay?.catch(() => {})
  }

  /** Dials now, then whenever the node is left without connections. */
  start (): void {
    if (this.addresses.length === 0) return
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.host.addEventListener('peer:connect', this.onConnect)
    this.dialNow()
  }

  private dialNow (): void {
    if (this.underWay !== undefined) return
    const round = this.round().finally(() => { if (this.underWay === round) this.underWay = undefined })
    this.underWay = round
  }

  stop (): void {
    this.aborter.abort()
    clearTimeout(this.timer)
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    this.host.removeEventListener('peer:connect', this.onConnect)
  }

  private readonly onConnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString()
    this.connectedAt.set(peerId, performance.now())
    if (this.bootstrapPeers.has(peerId)) this.joined = true
    if (!this.joined) return
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString()
    const livedMs = performance.now() - (this.connectedAt.get(peerId) ?? -Infinity)
    this.connectedAt.delete(peerId)
    if (this.host.getConnections().length === 0) this.joined = false
    if (!this.isolated() || this.timer !== undefined) return
    // Closed right after the handshake: the peer refuses this node (allowlist, quarantine),
    // so wait for a quarantine to end rather than dial again at once (nor after the
    // delay that failed rounds during a partition built up: the link is back now).
    if (livedMs < REFUSED_WITHIN_MS) {
      this.schedule(jitter(this.refusedDelayMs))
      this.refusedDelayMs = Math.min(this.refusedDelayMs * 2, this.init.maxDelayMs)
      return
    }
    this.delayMs = this.init.minDelayMs
    this.refusedDelayMs = this.init.refusedDelayMs
    // Not at once: the peer's own redial, or libp2p's, may be under way.
    this.schedule(jitter(this.init.minDelayMs / 4))
  }

  private schedule (delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.dialNow()
    }, delayMs)
    this.timer.unref()
  }

  /** True while the node must dial its bootstrap addresses: no bootstrap node answered yet, or no connection at all. */
  private isolated (): boolean {
    return !this.aborter.signal.aborted && (!this.joined || this.host.getConnections().length === 0)
  }

  /** Dials every address at once; if none answers, tries again after the current delay. */
  private async round (): Promise<void> {
    if (this.dialing || this.timer !== undefined || !this.isolated()) return
    this.dialing = true
    const causes: Error[] = []
    try {
      await Promise.all(this.addresses.map(async (address) => {
        const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.init.dialTimeoutMs)])
        await this.host.dial(multiaddr(address), { signal }).then(() => { this.joined = true }, (err: Error) => {
          causes.push(explainDialError(err, { address, reached: this.reached.get(withoutPeerId(address)), timeoutMs: this.init.dialTimeoutMs }))
        })
      }))
    } finally {
      this.dialing = false
      this.reached.clear()
    }
    if (!this.isolated()) return
    const retryInMs = jitter(this.delayMs)
    this.delayMs = Math.min(this.delayMs * 2, this.init.maxDelayMs)
    this.init.onFailure(new BootstrapError(this.addresses, causes, retryInMs))
    this.schedule(retryInMs)
  }
}

/** How far an outbound connection got: TCP open, or past the swarm key and Noise. */
export type DialStage = 'connected' | 'encrypted'

/** What a failed dial to one bootstrap address is known to have done. */
interface DialAttempt {
  address: string
  /** How far it got (the gater saw it); undefined: no TCP connection. */
  reached?: DialStage
  timeoutMs: number
}

const SWARM_KEY_HINT = 'most likely a different swarm key on each side, or a key on one side only (check swarmKeyFile, --swarm-key)'

/**
 * One line an operator can act on: the address, what happened and what to check, rather
 * than libp2p's words (kept as the cause). A wrong swarm key shows in the handshake: the
 * pre-shared-key layer (@libp2p/pnet) checks nothing itself, it only scrambles the bytes,
 * so the Noise handshake or multistream-select on top of it reads garbage ("Message length
 * too long", "Missing newline", a reset) or waits for bytes that never make sense.
 */
export function explainDialError (err: Error, attempt: DialAttempt): Error {
  const first = (err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err)
  const code = (first as NodeJS.ErrnoException).code
  const message = first.message.split('\n')[0] ?? ''
  const timedOut = first.name === 'TimeoutError' || first.name === 'AbortError' || /aborted due to timeout|timeout/i.test(message)
  let why: string
  if (code === 'ECONNREFUSED') why = 'connection refused (ECONNREFUSED): nothing listens on that port (is the node up, is the port right?)'
  else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') why = `unreachable (${code}): no route to that host from here`
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = `the name does not resolve (${code})`
  else if (first.name === 'UnexpectedPeerError' || first.name === 'InvalidPeerIdError') why = 'a node answered, but with another peer id: the address\'s /p2p/ part is out of date (the node there has a new identity, see --identity)'
  else if (first.name === 'DialDeniedError' || first.name === 'ConnectionInterceptedError') why = `refused by this node itself (${message}): that peer is in quarantine here, not on the allowlist, or being dialled again only after a back-off (a connection to it closed before identify, which is how a refusal looks)`
  // Past Noise, the keys match: the peer let the handshake finish, then closed.
  else if (attempt.reached === 'encrypted') why = `the node there closed the connection after the handshake (${message}): this node is probably not on its allowlist (--allow-peer there), or in quarantine there`
  else if (timedOut && attempt.reached === 'connected') why = `connected, but the handshake did not complete within ${attempt.timeoutMs} ms: ${SWARM_KEY_HINT}, or the node there is too busy to answer`
  else if (timedOut) why = `no answer within ${attempt.timeoutMs} ms (timeout): the host is down or unreachable, or a firewall drops the packets`
  else if (attempt.reached === 'connected' || first.name === 'EncryptionFailedError' || /Message length|Missing newline/.test(message)) why = `the handshake failed: ${SWARM_KEY_HINT}`
  else why = message
  return new Error(`${attempt.address}: ${why}`, { cause: err })
}

function withoutPeerId (address: string): string {
  return address.split('/p2p/')[0]!
}

/** ±20 %, so that nodes left alone by one restart do not all dial again at the same instant. */
function jitter (ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4))
}
