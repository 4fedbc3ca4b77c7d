// Self-healing trees: when the path a copy came on breaks (its upstream died, froze, stopped,
// or lost its own upstream) and the producer may live on, the copy is pulled again, same
// id, same router, from the nearest node of its old route that still has it: the upstream
// itself when it said it is getting the producer again, else the nodes above it, the
// origin last (whose admission and redirects still hold, so a subtree does not storm it).
// Copies in other routers of this node that were piped from the lost one are piped again.
// Each restored copy is announced with `producerrestored` (`dataproducerrestored` for a
// data producer's); apps consume it again.
import { RequestRefusedError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import type { CopyClosed, IncomingPipes } from '../pipes/incoming-pipes.js'
import type { ProducerPuller } from '../pulling/producer-puller.js'
import { isDataProducer } from '../../media/producer-registry.js'
import type { AnyProducer, ProducerRegistry } from '../../media/producer-registry.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:healing')

/** How long a copy lost on the way counts as such for the nodes below (they are told `upstream-lost`). */
const LOSS_MEMORY_MS = 60_000

export interface ProducerRestored {
  producerId: string
  router: ms.Router
  /** The new copy: consume it again. */
  pipeProducer: ms.Producer
  /** Time from the old copy's close to the new copy's creation, in ms. */
  gapMs: number
}

export interface DataProducerRestored {
  dataProducerId: string
  router: ms.Router
  /** The new copy: consume it again. */
  pipeDataProducer: ms.DataProducer
  /** Time from the old copy's close to the new copy's creation, in ms. */
  gapMs: number
}

/** A restored copy of either kind (the node tells media and data producers apart). */
export type RestoredCopy = Omit<ProducerRestored, 'pipeProducer'> & { pipeProducer: AnyProducer }

export interface RestoreFailed {
  producerId: string
  router: ms.Router
  error: Error
}

export interface CopyRepairInit {
  registry: ProducerRegistry
  puller: ProducerPuller
  incoming: IncomingPipes
  /** A quick liveness check of a node (a ping with a short deadline). */
  probe: (peerId: string) => Promise<boolean>
  isStopping: () => boolean
  onRestored: (event: RestoredCopy) => void
  onRestoreFailed: (event: RestoreFailed) => void
}

export class CopyRepair {
  /** Producers whose copy here was lost on the way or moved, by id: when. */
  private readonly lostOnTheWay = new Map<string, number>()
  /** Producers being restored here, by id: the routers their local copies must be piped to again. */
  private readonly restoring = new Map<string, { localRouters: Set<ms.Router> }>()

  constructor (private readonly init: CopyRepairInit) {
    // A local copy (another router of this node) closes a moment after the copy it came from.
    init.registry.on('remove', ({ producer, router, isCopy }) => {
      if (isCopy && !init.isStopping()) this.restoring.get(producer.id)?.localRouters.add(router)
    })
  }

  /** True when this node's copy of `producerId` closed because the path broke, not because the producer did. */
  lostUpstream (producerId: string): boolean {
    const at = this.lostOnTheWay.get(producerId)
    return at !== undefined && performance.now() - at < LOSS_MEMORY_MS
  }

  /** Every copy that closed: restores those lost on the way. */
  onCopyClosed (event: CopyClosed): void {
    this.forgetOldLosses()
    if (event.reason === 'upstreamlost' || event.reason === 'moving') this.lostOnTheWay.set(event.producerId, event.at)
    else this.lostOnTheWay.delete(event.producerId)
    if (event.reason !== 'upstreamlost' || this.init.isStopping()) return
    void this.restore(event)
  }

  /**
   * `move` from the upstream of our copy of `producerId` (it drains): the copy is pulled
   * from the nodes above it instead, and the old one closed once the new pipe is ready.
   */
  move (upstream: string, producerId: string): void {
    const copy = this.init.incoming.copyFrom(upstream, producerId)
    if (copy === undefined) throw new RequestRefusedError('not-found', `no copy of ${producerId} from you here`)
    if (this.restoring.has(producerId)) return
    const state = { localRouters: new Set<ms.Router>() }
    this.restoring.set(producerId, state)
    const { producer, router, route } = copy
    void (async () => {
      try {
        const pipeProducer = await this.init.puller.pullBy(producerId, router, {
          candidates: route.slice(0, -1).reverse(),
          useDirectory: true,
          avoid: [upstream],
          probe: this.init.probe,
          replacing: producer,
          leaving: upstream,
          data: isDataProducer(producer)
        })
        const gapMs = performance.now() - (this.lostOnTheWay.get(producerId) ?? performance.now())
        log.info('copy %s moved off %s (gap %d ms)', producerId, upstream, Math.round(gapMs))
        this.init.onRestored({ producerId, router, pipeProducer, gapMs })
        await this.repipeLocalCopies(producerId, state.localRouters, router, performance.now() - gapMs, isDataProducer(producer))
      } catch (err) {
        // The copy stays on the draining node; if that node stops, it is restored then.
        log.info('copy %s could not move off %s: %s', producerId, upstream, describeError(err))
        if (producer.closed) this.init.onRestoreFailed({ producerId, router, error: err as Error })
      } finally {
        this.restoring.delete(producerId)
      }
    })()
  }

  private async restore (event: CopyClosed): Promise<void> {
    const { producerId, router, upstream, route, upstreamRestoring } = event
    if (router.closed || this.restoring.has(producerId)) return
    const state = { localRouters: new Set<ms.Router>() }
    this.restoring.set(producerId, state)
    // Nearest first: the upstream when it is getting the producer again itself, then the
    // nodes above it, the origin last.
    const above = route.slice(0, -1).reverse()
    const candidates = upstreamRestoring ? [upstream, ...above] : above
    log.debug('copy %s lost its upstream %s: restoring from %s', producerId, upstream, candidates.join(', ') || 'nobody')
    try {
      const pipeProducer = await this.init.puller.pullBy(producerId, router, {
        candidates,
        useDirectory: false,
        avoid: upstreamRestoring ? [] : [upstream],
        probe: this.init.probe,
        trustFirst: upstreamRestoring,
        // The node above may not know yet that the lost upstream is gone (frozen, cut off):
        // its slot there is about to free.
        ...(upstreamRestoring ? {} : { leaving: upstream }),
        data: event.data
      })
      const gapMs = performance.now() - event.at
      log.info('copy %s restored after %d ms', producerId, Math.round(gapMs))
      this.init.onRestored({ producerId, router, pipeProducer, gapMs })
      await this.repipeLocalCopies(producerId, state.localRouters, router, event.at, event.data)
    } catch (err) {
      log.info('copy %s not restored: %s', producerId, describeError(err))
      this.init.onRestoreFailed({ producerId, router, error: err as Error })
    } finally {
      this.restoring.delete(producerId)
    }
  }

  private async repipeLocalCopies (producerId: string, routers: Set<ms.Router>, restoredIn: ms.Router, lostAt: number, data: boolean): Promise<void> {
    for (const router of routers) {
      if (router === restoredIn || router.closed || this.init.isStopping()) continue
      try {
        const pipeProducer = await this.init.puller.locate(producerId, router, undefined, data)
        this.init.onRestored({ producerId, router, pipeProducer, gapMs: performance.now() - lostAt })
      } catch (err) {
        this.init.onRestoreFailed({ producerId, router, error: err as Error })
      }
    }
  }

  private forgetOldLosses (): void {
    const now = performance.now()
    for (const [producerId, at] of this.lostOnTheWay) if (now - at >= LOSS_MEMORY_MS) this.lostOnTheWay.delete(producerId)
  }
}
