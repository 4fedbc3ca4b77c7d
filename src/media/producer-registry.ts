// Every producer on this node's routers, whether created here (origin) or re-created from
// another router or node (copy). Copies are marked before they are produced, because
// mediasoup announces a new producer before produce() returns.
import { EventEmitter } from 'node:events'
import type { types as ms } from 'mediasoup'

export interface ProducerEntry {
  producer: ms.Producer
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

  private add (router: ms.Router, producer: ms.Producer): void {
    const key = `${router.id}/${producer.id}`
    const entry = { producer, router, isCopy: this.expectedCopies.delete(key) }
    let perRouter = this.byId.get(producer.id)
    if (perRouter === undefined) this.byId.set(producer.id, perRouter = new Map())
    perRouter.set(router.id, entry)
    producer.observer.once('close', () => {
      perRouter.delete(router.id)
      if (perRouter.size === 0) this.byId.delete(producer.id)
      this.emit('remove', entry)
    })
    this.emit('add', entry)
  }
}
