// Taking a node out of service without cutting anyone off (node.drain()): it stops taking
// pulls and recruits (requesters are sent to other providers or refused with `capacity`),
// withdraws the provider records of its copies, and asks every node it relays a copy to
// to `move` to another provider (they make the new path before dropping the old one).
// Streams it originates cannot move: their downstream goes when they close (their clients
// left). Done when no downstream pipe is left, or at the timeout.
import { setTimeout as delay } from 'node:timers/promises'
import { createLogger, describeError } from '../../logger.js'
import type { Notices } from '../pipes/notices.js'
import type { OutgoingPipes } from '../pipes/outgoing-pipes.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'
import type { ProducerRegistry } from '../../media/producer-registry.js'

const log = createLogger('node:drain')

/** How often a draining node looks at what is left downstream (and asks again to move). */
const DRAIN_CHECK_MS = 100
/** A downstream node that has not moved after this is asked again. */
const MOVE_AGAIN_MS = 2000

export interface DrainOptions {
  /** Resolve after this many ms even if downstream pipes are left. Default 30000. */
  timeoutMs?: number
}

export interface DrainResult {
  /** True when no downstream pipe was left. */
  drained: boolean
  /** Downstream pipes left (streams this node originates, nodes that could not move). */
  downstreamPipes: number
  tookMs: number
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000

export interface DrainInit {
  registry: ProducerRegistry
  directory: ProducerDirectory
  outgoing: OutgoingPipes
  notices: Notices
  isStopping: () => boolean
}

export class Drain {
  private startedAt?: number
  private running?: Promise<DrainResult>

  constructor (private readonly init: DrainInit) {}

  get draining (): boolean {
    return this.startedAt !== undefined
  }

  /** Starts draining (once; later calls wait for the same drain, with their own timeout). */
  async drain ({ timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS }: DrainOptions = {}): Promise<DrainResult> {
    if (!(timeoutMs >= 0)) throw new TypeError('timeoutMs must be a number ≥ 0')
    this.startedAt ??= performance.now()
    this.running ??= this.moveEveryone()
    const timeout = delay(timeoutMs, undefined, { ref: false }).then(() => this.result(false))
    return await Promise.race([this.running, timeout])
  }

  /** Relayed copies are no longer offered to the swarm. */
  private withdrawCopies (): void {
    for (const entry of this.init.registry.all()) {
      if (this.init.registry.entries(entry.producer.id).every((e) => e.isCopy)) void this.init.directory.withdraw(entry.producer.id)
    }
  }

  private async moveEveryone (): Promise<DrainResult> {
    log.info('draining: %d downstream pipes', this.init.outgoing.stats().pipes)
    this.withdrawCopies()
    const asked = new Map<string, number>()
    while (this.init.outgoing.stats().pipes > 0 && !this.init.isStopping()) {
      const now = performance.now()
      for (const { peerId, producerId } of this.init.outgoing.streams()) {
        // Only copies can move: a stream this node originates has no other source.
        if (!this.init.registry.entries(producerId).every((e) => e.isCopy)) continue
        const key = `${peerId} ${producerId}`
        const last = asked.get(key)
        if (last !== undefined && now - last < MOVE_AGAIN_MS) continue
        asked.set(key, now)
        this.init.notices.notify(peerId, { type: 'move', producerId }, (err) => log.debug('move of %s to %s not delivered: %s', producerId, peerId, describeError(err)))
      }
      await delay(DRAIN_CHECK_MS)
    }
    return this.result(true)
  }

  private result (finished: boolean): DrainResult {
    const downstreamPipes = this.init.outgoing.stats().pipes
    const drained = downstreamPipes === 0
    if (finished || drained) log.info('drained in %d ms', Math.round(performance.now() - (this.startedAt ?? 0)))
    return { drained, downstreamPipes, tookMs: performance.now() - (this.startedAt ?? performance.now()) }
  }
}
