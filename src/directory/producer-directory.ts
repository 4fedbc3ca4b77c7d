// Where producers live: provider records in the DHT under a key derived from the producer
// id, plus a cache of the last node that served each producer (warm lookups skip the DHT).
// Records of closed producers are not withdrawn from other nodes' stores (the DHT has no
// "unprovide"); they expire after the provider validity, and requesters skip a provider
// that answers not-found.
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { fromString } from 'uint8arrays/from-string'
import { createLogger, describeError } from '../logger.js'
import type { Host } from '../p2p/host.js'

const log = createLogger('directory')

export async function producerKey (producerId: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(fromString(`mediasoup-swarm/producer/${producerId}`)))
}

/** Retry delays for records no peer has stored yet: from the first to the last, doubling. */
const RETRY_FIRST_MS = 250
const RETRY_LAST_MS = 30_000

export class ProducerDirectory {
  private readonly announced = new Set<string>()
  /** Announced, but no other node has stored the record yet (no peers, or none answered). */
  private readonly unstored = new Set<string>()
  private readonly locations = new Map<string, string>()
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelayMs = RETRY_FIRST_MS
  private retrying = false
  private stopped = false

  constructor (private readonly host: Host, private readonly announceTimeoutMs: number, private readonly onError: (err: Error) => void) {
    host.addEventListener('peer:identify', this.onPeerIdentified)
  }

  /**
   * Announces that this node can serve `producerId`. Resolves once the record is stored on
   * other nodes, or, when none took it (a node alone, or between connections), once that is
   * known: the record is then sent again whenever a peer joins, and with backing off.
   */
  async announce (producerId: string): Promise<void> {
    this.announced.add(producerId)
    if (await this.provide(producerId) === 0 && this.announced.has(producerId)) {
      this.unstored.add(producerId)
      this.scheduleRetry()
    }
  }

  /** Peers that stored the record. */
  private async provide (producerId: string): Promise<number> {
    let stored = 0
    try {
      for await (const event of this.host.services.dht.provide(await producerKey(producerId), { signal: AbortSignal.timeout(this.announceTimeoutMs) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
      }
    } catch (err) {
      // Running out of time is what an announcement of a node alone does: retried, not reported.
      if (!this.stopped && !['TimeoutError', 'AbortError'].includes((err as Error).name)) this.onError(err as Error)
    }
    return stored
  }

  /** A new peer speaks the DHT now: records nobody stored yet go out soon. */
  private readonly onPeerIdentified = (): void => {
    if (this.unstored.size === 0) return
    this.retryDelayMs = RETRY_FIRST_MS
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.scheduleRetry()
  }

  private scheduleRetry (): void {
    if (this.retryTimer !== undefined || this.stopped) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.retryUnstored()
    }, this.retryDelayMs)
    this.retryTimer.unref()
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_LAST_MS)
  }

  private async retryUnstored (): Promise<void> {
    if (this.retrying) return
    this.retrying = true
    try {
      for (const producerId of [...this.unstored]) {
        if (await this.provide(producerId) > 0) this.unstored.delete(producerId)
      }
    } finally {
      this.retrying = false
    }
    if (this.unstored.size > 0) this.scheduleRetry()
    else this.retryDelayMs = RETRY_FIRST_MS
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    this.host.removeEventListener('peer:identify', this.onPeerIdentified)
  }

  /** Stops re-announcing `producerId` from this node. */
  async withdraw (producerId: string): Promise<void> {
    this.unstored.delete(producerId)
    if (!this.announced.delete(producerId)) return
    await this.host.services.dht.cancelReprovide(await producerKey(producerId)).catch(this.onError)
  }

  /** The node that last served this producer here, if any. */
  cachedLocation (producerId: string): string | undefined {
    return this.locations.get(producerId)
  }

  remember (producerId: string, peerId: string): void {
    this.locations.set(producerId, peerId)
  }

  forget (producerId: string, peerId?: string): void {
    if (peerId === undefined || this.locations.get(producerId) === peerId) this.locations.delete(producerId)
  }

  /** Forgets every cached location on `peerId` (it went away). */
  forgetPeer (peerId: string): void {
    for (const [producer, peer] of this.locations) if (peer === peerId) this.locations.delete(producer)
  }

  /**
   * Providers of `producerId` other than this node: first those in this node's own DHT
   * store, then those a network query finds. The DHT's generator is used directly (not
   * libp2p's content routing, which reads ahead): while the caller pulls from a provider
   * of the local store, no network query runs to compete with the pull for the CPU; one
   * starts only if the caller asks for more. It stops when the caller stops iterating.
   */
  async * findProviders (producerId: string, signal: AbortSignal): AsyncGenerator<string> {
    const self = this.host.peerId.toString()
    const seen = new Set<string>()
    const done = new AbortController()
    try {
      yield * this.query(producerId, AbortSignal.any([signal, done.signal]), self, seen)
    } finally {
      done.abort()
    }
  }

  private async * query (producerId: string, signal: AbortSignal, self: string, seen: Set<string>): AsyncGenerator<string> {
    for await (const event of this.host.services.dht.findProviders(await producerKey(producerId), { signal })) {
      if (event.name !== 'PROVIDER') continue
      for (const provider of event.providers) {
        const peerId = provider.id.toString()
        if (peerId === self || seen.has(peerId)) continue
        seen.add(peerId)
        if (provider.multiaddrs.length > 0) {
          await this.host.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs })
            .catch((err: Error) => log.trace('addresses of provider %s not kept: %s', peerId, describeError(err)))
        }
        yield peerId
      }
    }
  }
}
