// Notices to peers that nobody waits for (close-pipe, release, producer-event): sent at
// once, failures reported, and the ones under way tracked so that a stopping node lets
// them finish before it closes the connections under them.
import { RemoteError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import type { Request, Response } from '../../protocol/messages.js'
import type { RequestOptions } from '../../protocol/rpc.js'

const log = createLogger('node:pipes')

/** Sends a request to a peer; rejects with RemoteError / RequestTimeoutError. */
export type Send = (peerId: string, request: Request, options?: RequestOptions) => Promise<Response>

export class Notices {
  private readonly underWay = new Set<Promise<void>>()

  /** `report`: failures other than a gone peer's `not-found` (it closed its side already). */
  constructor (private readonly send: Send, private readonly report: (err: Error) => void) {}

  /** Sends `request` without waiting; `onError` replaces the default reporting. */
  notify (peerId: string, request: Request, onError?: (err: Error) => void): void {
    const notice = this.send(peerId, request).then(() => {}, (err: Error) => {
      if (onError !== undefined) return onError(err)
      if (err instanceof RemoteError && err.code === 'not-found') {
        log.trace('%s to %s: the peer had closed its side already', request.type, peerId)
        return
      }
      this.report(err)
    })
    this.underWay.add(notice)
    void notice.finally(() => this.underWay.delete(notice))
  }

  /** Resolves when every notice sent so far is answered or failed. */
  async settled (): Promise<void> {
    await Promise.all([...this.underWay])
  }
}

/** For a notice whose failure only matters while `stillRelevant()`: logged otherwise. */
export function reportUnless (stillRelevant: () => boolean, report: (err: Error) => void, what: string): (err: Error) => void {
  return (err) => {
    if (stillRelevant()) report(err)
    else log.trace('%s failed after its pipe closed: %s', what, describeError(err))
  }
}
