// The events of a SwarmNode, and an emitter whose listeners cannot break the node: a
// listener that throws is logged and reported as 'listenererror' (mediasoup's safeEmit).
import { EventEmitter } from 'node:events'
import { createLogger, describeError } from '../logger.js'
import type { PullTiming } from './pulling/producer-puller.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node')

export interface SwarmNodeEvents {
  /** A router was created with createRouter() (or for relaying). */
  newrouter: [ms.Router]
  /** A remote producer was pulled into this node. */
  pulled: [PullTiming]
  /** A pull of a remote producer failed (the error pipeToRouter() rejects with). */
  pullfailed: [{ producerId: string, error: Error, totalMs: number }]
  /** The upstream or the downstream nodes of a producer changed (see getDistribution()). */
  distributionchange: [string]
  /** Something went wrong in the background (a notification that could not be sent…). Logged when nobody listens. */
  error: [Error]
  /** A mediasoup worker died; the node stops. */
  workerdied: [Error]
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
