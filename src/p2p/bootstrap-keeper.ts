// Keeps a node in its swarm. Whenever it has no connection at all (at start when its
// bootstrap nodes are not up yet, or after its last peer went away) it dials its bootstrap
// addresses again, backing off from `minDelayMs` to `maxDelayMs`, until one answers or the
// node stops. One connection is enough: the DHT finds every other node through it.
import { multiaddr } from '@multiformats/multiaddr'
import { BootstrapError } from '../errors.js'
import type { Host } from './host.js'
import type { PeerId } from '@libp2p/interface'

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
  private readonly aborter = new AbortController()
  /** When each connected peer connected (performance.now()). */
  private readonly connectedAt = new Map<string, number>()

  constructor (private readonly host: Host, private readonly init: BootstrapKeeperInit) {
    const self = host.peerId.toString()
    this.addresses = init.addresses.filter((a) => multiaddr(a).getComponents().find((c) => c.name === 'p2p')?.value !== self)
    this.delayMs = init.minDelayMs
    this.refusedDelayMs = init.refusedDelayMs
  }

  /** Addresses it dials (its own aside): 0 for a swarm's first node. */
  get addressCount (): number {
    return this.addresses.length
  }

  /** Dials now, then whenever the node is left without connections. */
  start (): void {
    if (this.addresses.length === 0) return
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.host.addEventListener('peer:connect', this.onConnect)
    void this.round()
  }

  stop (): void {
    this.aborter.abort()
    clearTimeout(this.timer)
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    this.host.removeEventListener('peer:connect', this.onConnect)
  }

  private readonly onConnect = (event: CustomEvent<PeerId>): void => {
    this.connectedAt.set(event.detail.toString(), performance.now())
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString()
    const livedMs = performance.now() - (this.connectedAt.get(peerId) ?? -Infinity)
    this.connectedAt.delete(peerId)
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
      void this.round()
    }, delayMs)
    this.timer.unref()
  }

  private isolated (): boolean {
    return !this.aborter.signal.aborted && this.host.getConnections().length === 0
  }

  /** Dials every address at once; if none answers, tries again after the current delay. */
  private async round (): Promise<void> {
    if (this.dialing || this.timer !== undefined || !this.isolated()) return
    this.dialing = true
    const causes: Error[] = []
    try {
      await Promise.all(this.addresses.map(async (address) => {
        const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.init.dialTimeoutMs)])
        await this.host.dial(multiaddr(address), { signal }).catch((err: Error) => { causes.push(explainDialError(err)) })
      }))
    } finally {
      this.dialing = false
    }
    if (!this.isolated()) return
    const retryInMs = jitter(this.delayMs)
    this.delayMs = Math.min(this.delayMs * 2, this.init.maxDelayMs)
    this.init.onFailure(new BootstrapError(this.addresses, causes, retryInMs))
    this.schedule(retryInMs)
  }
}

/**
 * A handshake cut off by the peer (a reset, or bytes that are no Noise message) is what a
 * swarm key mismatch looks like from the dialling side: say so rather than libp2p's words.
 */
function explainDialError (err: Error): Error {
  const inHandshake = err.name === 'EncryptionFailedError' || (/ECONNRESET|Message length/.test(err.message) && !err.message.startsWith('connection error'))
  if (!inHandshake) return err
  return new Error(`the handshake failed (${err.message.split('\n')[0]}): probably different swarm keys, or a key on one side only`, { cause: err })
}

/** ±20 %, so that nodes left alone by one restart do not all dial again at the same instant. */
function jitter (ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4))
}
