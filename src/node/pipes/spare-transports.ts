// Unconnected PipeTransports made ahead of need, one per router at most: a new pipe end
// (either side) then costs no worker round trip for the transport itself. A pull makes
// the next spare once it is answered.
import { createLogger, describeError } from '../../logger.js'
import { createPipeTransport } from '../../media/pipe-transport.js'
import type { PipeListen } from '../../media/pipe-transport.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:pipes')

export class SpareTransports {
  private readonly spares = new Map<ms.Router, Promise<ms.PipeTransport>>()
  private closed = false

  constructor (private readonly listen: PipeListen) {}

  /** Makes a spare transport in `router` unless it has one (or is closed). */
  prepare (router: ms.Router): void {
    if (this.spares.has(router) || router.closed || this.closed) return
    const spare = createPipeTransport(router, this.listen)
    this.spares.set(router, spare)
    const forget = (): void => { if (this.spares.get(router) === spare) this.spares.delete(router) }
    spare.then((t) => t.observer.once('close', forget), (err: Error) => {
      log.debug('spare pipe transport of router %s not made: %s', router.id, describeError(err))
      forget()
    })
  }

  /** The spare of `router` when there is one, else a new transport. */
  async take (router: ms.Router): Promise<ms.PipeTransport> {
    const spare = this.spares.get(router)
    this.spares.delete(router)
    return await (spare ?? createPipeTransport(router, this.listen))
  }

  /** Closes every spare; no new ones are made. */
  close (): void {
    this.closed = true
    // A spare that failed to open was logged then; there is nothing to close.
    for (const spare of this.spares.values()) void spare.then((t) => t.close(), () => {})
    this.spares.clear()
  }
}
