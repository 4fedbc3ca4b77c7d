// Every producer on this node's routers, whether created here (origin) or re-created from
// another router or node (copy): media producers and data producers alike, in one id space
// (mediasoup makes both UUIDs; the swarm finds both by id in the same DHT key space).
// Copies are marked before they are produced, because mediasoup announces a new producer
// before produce() returns.
import { EventEmitter } from 'node:events'
import type { types as ms } from 'mediasoup'

/** A media producer or a data producer: both are announced, pulled and piped by id. */
export type AnyProducer = ms.Producer | ms.DataProducer

/** True for a data producer (SCTP or direct); a media producer has a `kind`. */
export function isDataProducer (producer: AnyProducer): producer is ms.DataProducer {
  return !('kind' in producer)
}

/** Calls `listener` once `producer` closes, whichever kind it is. */
export function onceClosed (producer: AnyProducer, listener: () => void): void {
  // Both observers emit a plain 'close'; the union of their typed emitters has no common once().
  (producer.observer as unknown as EventEmitter).once('close', listener)
}

export interface ProducerEntry {
  producer: AnyProducer
  router: ms.Router
  /** True for a copy made by a pipe (remote or between local routers). */
  isCopy: boolean
}

interface RegistryEvents {
  /** A producer appeared in one of the node's routers (created there, or a copy). */
  add: [ProducerEntry]
  remove: [ProducerEntry]
}

export class ProducerRegistry extends EventEmitter<RegistryEvents> {
  private readonly byId = new Map<string, Map<string, ProducerEntry>>()
  private readonly expectedCopies = new Set<string>()

  track (router: ms.Router): void {
    router.observer.on('newtransport', (transport) => {
      transport.observer.on('newproducer', (producer) => this.add(router, producer))
      transport.observer.on('newdataproducer', (dataProducer) => this.add(router, dataProducer))
    })
  }

  /** The next producer `producerId` in `router` will be a copy. */
  expectCopy (router: ms.Router, producerId: string): () => void {
    const key = `${router.id}/${producerId}`
    this.expectedCopies.add(key)
    return () => this.expectedCopies.delete(key)
  }

  /** Entries of `producerId`, origins first. */
  entries (producerId: string): ProducerEntry[] {
    return [...(this.byId.get(producerId)?.values() ?? [])].sort((a, b) => Number(a.isCopy) - Number(b.isCopy))
  }

  inRouter (producerId: string, router: ms.Router): ProducerEntry | undefined {
    return this.byId.get(producerId)?.get(router.id)
  }

  all (): ProducerEntry[] {
    return [...this.byId.values()].flatMap((m) => [...m.values()])
  }

  private add (router: ms.Router, producer: AnyProducer): void {
    const key = `${router.id}/${producer.id}`
    const entry = { producer, router, isCopy: this.expectedCopies.delete(key) }
    let perRouter = this.byId.get(producer.id)
    if (perRouter === undefined) this.byId.set(producer.id, perRouter = new Map())
    perRouter.set(router.id, entry)
    onceClosed(producer, () => {
      perRouter.delete(router.id)
      if (perRouter.size === 0) this.byId.delete(producer.id)
      this.emit('remove', entry)
    })
    this.emit('add', entry)
  }
}
