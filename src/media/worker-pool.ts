// The node's mediasoup workers; routers go to the worker with the fewest routers. A worker
// that dies is replaced while others still run (its routers, and what lived in them, are
// gone: mediasoup closes them); when the last one dies the pool is dead.
import * as mediasoup from 'mediasoup'
import { InvalidStateError } from '../errors.js'
import { createLogger, describeError } from '../logger.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('media:workers')

export interface WorkerPoolEvents {
  /** A worker died (before its replacement, if any, is made). */
  onDied: (worker: ms.Worker, error: Error) => void
  /** A new worker took a dead one's place. */
  onReplaced: (worker: ms.Worker) => void
  /** No worker is left alive (the last died, or a replacement could not be made). */
  onAllDied: (error: Error) => void
}

export class WorkerPool {
  readonly workers: ms.Worker[] = []
  private readonly routerCount = new Map<ms.Worker, number>()
  private readonly routerWorker = new WeakMap<ms.Router, ms.Worker>()
  private closed = false

  private constructor (private readonly settings: ms.WorkerSettings, private readonly events: WorkerPoolEvents) {}

  static async create (count: number, settings: ms.WorkerSettings, events: WorkerPoolEvents): Promise<WorkerPool> {
    const pool = new WorkerPool(settings, events)
    try {
      for (let i = 0; i < count; i++) await pool.add()
    } catch (err) {
      pool.close()
      throw err
    }
    return pool
  }

  private async add (): Promise<ms.Worker> {
    const worker = await mediasoup.createWorker({ logLevel: 'warn', ...this.settings })
    worker.on('died', (error) => this.onDied(worker, error))
    this.workers.push(worker)
    this.routerCount.set(worker, 0)
    return worker
  }

  private onDied (worker: ms.Worker, error: Error): void {
    const index = this.workers.indexOf(worker)
    if (index >= 0) this.workers.splice(index, 1)
    this.routerCount.delete(worker)
    log.error('mediasoup worker %d died: %s', worker.pid, describeError(error))
    this.events.onDied(worker, error)
    if (this.closed) return
    if (this.workers.length === 0) {
      this.events.onAllDied(error)
      return
    }
    this.add().then((replacement) => {
      log.info('worker %d replaced by %d', worker.pid, replacement.pid)
      if (this.closed) replacement.close()
      else this.events.onReplaced(replacement)
    }, (err: Error) => {
      log.error('no replacement for worker %d: %s', worker.pid, describeError(err))
      if (this.workers.length === 0 && !this.closed) this.events.onAllDied(err)
    })
  }

  async createRouter (options: ms.RouterOptions): Promise<ms.Router> {
    const worker = [...this.routerCount.entries()].sort((a, b) => a[1] - b[1])[0]?.[0]
    if (worker === undefined) throw new InvalidStateError('no mediasoup worker is running')
    const router = await worker.createRouter(options)
    this.routerWorker.set(router, worker)
    this.routerCount.set(worker, (this.routerCount.get(worker) ?? 0) + 1)
    router.observer.once('close', () => { if (this.routerCount.has(worker)) this.routerCount.set(worker, (this.routerCount.get(worker) ?? 1) - 1) })
    return router
  }

  workerOf (router: ms.Router): ms.Worker | undefined {
    return this.routerWorker.get(router)
  }

  close (): void {
    this.closed = true
    for (const w of this.workers) w.close()
  }
}
