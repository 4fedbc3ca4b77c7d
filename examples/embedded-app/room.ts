// A room: the clients in it and the producers they can consume.
// Producers published by this server's clients are `local`; those published on the other
// app servers are learnt from them over HTTP (GET <peer>/producers?room=<name>, README.md).
import type { types } from 'mediasoup'
import type { Notification, ProducerInfo, RoomListing } from './protocol.js'

/** What a room needs of a connected browser. */
export interface RoomClient {
  notify: (message: Notification) => void
}

const FETCH_TIMEOUT_MS = 2000

export class Room {
  readonly clients = new Set<RoomClient>()
  /** Published by clients of this server. */
  readonly local = new Map<string, ProducerInfo>()
  /** Published on other app servers, by the peer URL that listed them. */
  private readonly remote = new Map<string, ProducerInfo & { peer: string }>()
  private refreshing: Promise<void> | undefined

  constructor (readonly name: string) {}

  /** Every producer of the room, wherever it was published. */
  get producers (): ProducerInfo[] {
    return [...this.local.values(), ...[...this.remote.values()].map(({ id, kind }) => ({ id, kind }))]
  }

  has (producerId: string): boolean {
    return this.local.has(producerId) || this.remote.has(producerId)
  }

  addLocal (producer: types.Producer, from: RoomClient): void {
    const info: ProducerInfo = { id: producer.id, kind: producer.kind }
    this.local.set(info.id, info)
    this.broadcast({ notification: 'newProducer', data: info }, from)
    producer.observer.once('close', () => {
      this.local.delete(info.id)
      this.broadcast({ notification: 'producerClosed', data: { id: info.id } })
    })
  }

  broadcast (message: Notification, except?: RoomClient): void {
    for (const client of this.clients) if (client !== except) client.notify(message)
  }

  // swarm: rooms span app servers: ask each peer server which producers it has in this
  // room and tell our clients what changed. One refresh at a time; a peer that does not
  // answer keeps what it listed last.
  async refresh (peers: readonly string[]): Promise<void> {
    this.refreshing ??= this.fetchPeers(peers).finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async fetchPeers (peers: readonly string[]): Promise<void> {
    await Promise.all(peers.map(async (peer) => {
      let listing: RoomListing | undefined
      try {
        const response = await fetch(`${peer}/producers?room=${encodeURIComponent(this.name)}`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
        listing = await response.json() as RoomListing
      } catch { /* down or slow: try again at the next refresh */ }
      if (!Array.isArray(listing?.producers)) return
      const listed = new Set(listing.producers.map((p) => p.id))
      for (const [id, info] of this.remote) {
        if (info.peer !== peer || listed.has(id)) continue
        this.remote.delete(id)
        this.broadcast({ notification: 'producerClosed', data: { id } })
      }
      for (const { id, kind } of listing.producers) {
        if (this.has(id)) continue
        this.remote.set(id, { id, kind, peer })
        this.broadcast({ notification: 'newProducer', data: { id, kind } })
      }
    }))
  }
}
