// Capacity in scaling points: every local consumer and every outgoing pipe (a consumer on
// a PipeTransport) spends points by kind. A node refuses work that would exceed its
// capacity, except from the reserve kept for recruited relays (docs/delegation.md).
import type { types as ms } from 'mediasoup'

/** Points spent per consumer / outgoing pipe, by kind. */
export interface ScalingCosts {
  /** A local audio consumer. Default 1. */
  audioConsumer: number
  /** A local video consumer. Default 4. */
  videoConsumer: number
  /** An outgoing pipe carrying one audio producer. Default 1. */
  audioPipe: number
  /** An outgoing pipe carrying one video producer. Default 4. */
  videoPipe: number
}

export const DEFAULT_COSTS: ScalingCosts = { audioConsumer: 1, videoConsumer: 4, audioPipe: 1, videoPipe: 4 }

/**
 * mediasoup sizes a worker at roughly 500 consumers; with video at 4 points, a worker is
 * 2000 points (500 video consumers, or a mix with audio at a quarter of the cost).
 */
export const POINTS_PER_WORKER = 2000

export function defaultCapacity (numWorkers: number): number {
  return numWorkers * POINTS_PER_WORKER
}

export function consumerCost (costs: ScalingCosts, kind: ms.MediaKind, isPipe: boolean): number {
  if (isPipe) return kind === 'video' ? costs.videoPipe : costs.audioPipe
  return kind === 'video' ? costs.videoConsumer : costs.audioConsumer
}

/** Sums the points of the consumers living on the routers it tracks. */
export class LoadTracker {
  private points = 0
  private local = 0

  constructor (private readonly costs: ScalingCosts, readonly capacity: number) {}

  get load (): number {
    return this.points
  }

  get spare (): number {
    return this.capacity - this.points
  }

  /** Consumers on transports other than pipes: the node's own clients. */
  get localConsumers (): number {
    return this.local
  }

  /** Counts `cost` points until the returned function is called (work being set up). */
  hold (cost: number): () => void {
    this.points += cost
    let held = true
    return () => {
      if (held) this.points -= cost
      held = false
    }
  }

  /** True when `cost` more points fit, leaving `reserve` free unless `useReserve`. */
  fits (cost: number, reserve: number, useReserve: boolean): boolean {
    return this.points + cost <= this.capacity - (useReserve ? 0 : reserve)
  }

  track (router: ms.Router): void {
    router.observer.on('newtransport', (transport) => {
      const isPipe = transport.constructor.name === 'PipeTransport'
      transport.observer.on('newconsumer', (consumer) => {
        const cost = consumerCost(this.costs, consumer.kind, isPipe)
        this.points += cost
        if (!isPipe) this.local++
        consumer.observer.once('close', () => {
          this.points -= cost
          if (!isPipe) this.local--
        })
      })
    })
  }
}
