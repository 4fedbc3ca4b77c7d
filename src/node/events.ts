// The events of a SwarmNode, and an emitter whose listeners cannot break the node: a
// listener that throws is logged and reported as 'listenererror' (mediasoup's safeEmit).
import { EventEmitter } from 'node:events'
import { createLogger, describeError } from '../logger.js'
import type { DataProducerRestored, ProducerRestored, RestoreFailed } from './healing/copy-repair.js'
import type { CopyCloseReason } from './pipes/incoming-pipes.js'
import type { ProviderPenalty, PullTiming } from './pulling/producer-puller.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node')

export interface SwarmNodeEvents {
  /** A router was created with createRouter() (or for relaying). */
  newrouter: [ms.Router]
  /** A remote producer was pulled into this node. */
  pulled: [PullTiming]
  /** A pull of a remote producer failed (the error pipeToRouter() rejects with). */
  pullfailed: [{ producerId: string, error: Error, totalMs: number }]
  /**
   * A provider lied to a pull of this node (garbage, no answer, not-found for a producer it
   * announced, or a redirect to a node that did not have it): it is asked last for a while.
   */
  providerpenalised: [ProviderPenalty]
  /** The upstream or the downstream nodes of a producer changed (see getDistribution()). */
  distributionchange: [string]
  /** Something went wrong in the background (a notification that could not be sent…). Logged when nobody listens. */
  error: [Error]
  /**
   * A copy of a (media) producer from another node closed, and why (consumers of it got
   * mediasoup's `producerclose` too). With `upstreamlost` or `moving` it is being restored:
   * `producerrestored` or `restorefailed` follows.
   */
  copyclosed: [{ producerId: string, router: ms.Router, reason: CopyCloseReason }]
  /** A copy whose path broke (or that moved off a draining node) is back, same id, same router: consume it again. */
  producerrestored: [ProducerRestored]
  /**
   * A copy of a data producer whose path broke (or that moved off a draining node) is
   * back, same id, same router: consume it again (its data consumers got `dataproducerclose`).
   */
  dataproducerrestored: [DataProducerRestored]
  /** A copy (of a producer or a data producer) whose path broke could not be restored (the producer is gone everywhere, or no node that has it answers). */
  restorefailed: [RestoreFailed]
  /** A mediasoup worker died (its routers closed). Another replaces it while others run; with none left, the node stops. */
  workerdied: [Error]
  /** A worker replacing a dead one is running (routers can be made on it). */
  newworker: [ms.Worker]
  /** A listener of `event` threw `error` (it was logged; the node went on). */
  listenererror: [event: string, error: Error]
}

export class SafeEmitter extends EventEmitter<SwarmNodeEvents> {
  override emit<K extends keyof SwarmNodeEvents>(event: K, ...args: SwarmNodeEvents[K]): boolean {
    if (event === 'error' && this.listenerCount('error') === 0) {
      // Logged where it was reported (at warn): nothing more to do.
      log.trace('background error, no error listener: %s', describeError(args[0]))
      return false
    }
    try {
      return super.emit(event, ...(args as never))
    } catch (err) {
      log.error('a listener of %s threw: %s', event, describeError(err))
      if (event !== 'listenererror') {
        try {
          super.emit('listenererror', event, err as Error)
        } catch (again) {
          log.error('a listener of listenererror threw: %s', describeError(again))
        }
      }
      return true
    }
  }
}
