// The node's mediasoup workers; routers go to the worker with the fewest routers.
import * as mediasoup from 'mediasoup'
import { InvalidStateError } from '../errors.js'
import type { types as ms } from 'mediasoup'

export class WorkerPool {
  readonly workers: ms.Worker[] = []
  private readonly routerCount = new Map<ms.Worker, number>()
  private readonly routerWorker = new WeakMap<ms.Router, ms.Worker>()

  static async create (count: number, settings: ms.WorkerSettings, onDied: (worker: ms.Worker, error: Error) => void): Promise<WorkerPool> {
    const pool = new WorkerPool()
    try {
      for (let i = 0; i < count; i++) {
        const worker = await mediasoup.createWorker({ logLevel: 'warn', ...settings })
        worker.on('died', (error) => onDied(worker, error))
        pool.workers.push(worker)
        pool.routerCount.set(worker, 0)
      }
    } catch (err) {
      pool.close()
      throw err
    }
    return pool
  }

  async createRouter (options: ms.RouterOptions): Promise<ms.Router> {
    const worker = [...this.routerCount.entries()].sort((a, b) => a[1] - b[1])[0]?.[0]
    if (worker === undefined) throw new InvalidStateError('no mediasoup worker is running')
    const router = await worker.createRouter(options)
    this.routerWorker.set(router, worker)
    this.routerCount.set(worker, (this.routerCount.get(worker) ?? 0) + 1)
    router.observer.once('close', () => this.routerCount.set(worker, (this.routerCount.get(worker) ?? 1) - 1))
    return router
  }

  workerOf (router: ms.Router): ms.Worker | undefined {
    return this.routerWorker.get(router)
  }

  close (): void {
    for (const w of this.workers) w.close()
  }
}
