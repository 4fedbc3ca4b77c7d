// Where producers live: provider records in the DHT under a key derived from the producer
// id, plus a cache of the last node that served each producer (warm lookups skip the DHT).
// Records of closed producers are not withdrawn from other nodes' stores (the DHT has no
// "unprovide"); they expire after the provider validity, and requesters skip a provider
// that answers not-found.
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { fromString } from 'uint8arrays/from-string'
import type { Host } from '../p2p/host.js'

export async function producerKey (producerId: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(fromString(`mediasoup-swarm/producer/${producerId}`)))
}

export class ProducerDirectory {
  private readonly announced = new Set<string>()
  private readonly locations = new Map<string, string>()

  constructor (private readonly host: Host, private readonly onError: (err: Error) => void) {}

  /** Announces that this node can serve `producerId`. Returns once the record is stored. */
  async announce (producerId: string): Promise<void> {
    this.announced.add(producerId)
    const key = await producerKey(producerId)
    try {
      await this.host.contentRouting.provide(key, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      // A swarm of one has nobody to store the record; the local record still answers.
      this.onError(err as Error)
    }
  }

  /** Stops re-announcing `producerId` from this node. */
  async withdraw (producerId: string): Promise<void> {
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
   * Providers of `producerId` other than this node, as they arrive from the DHT. The DHT
   * query stops when the caller stops iterating (libp2p reads ahead and would otherwise
   * run the whole network query while the caller sets up its pipe).
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
    for await (const provider of this.host.contentRouting.findProviders(await producerKey(producerId), { signal })) {
      const peerId = provider.id.toString()
      if (peerId === self || seen.has(peerId)) continue
      seen.add(peerId)
      if (provider.multiaddrs.length > 0) await this.host.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
      yield peerId
    }
  }
}
