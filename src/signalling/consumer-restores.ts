// The consumers of one client waiting for their producer to come back (docs/client-signalling.md,
// "Restored consumers"): a consumer whose copy closed with `upstreamlost` or `moving` is
// kept here, with what it was made with, until the copy is restored (it is made again and
// the client gets `consumerRestored`), the restore fails or times out (`consumerClosed` with
// `producerclosed`), or the client no longer wants it.
import type { types as ms } from 'mediasoup'
import type { ConsumerInfo, Notification } from './messages.js'
import { createLogger, describeError } from '../logger.js'

const log = createLogger('signalling')

/** What a consumer was made with, so it can be made again when its producer comes back. */
export interface ConsumeArgs { transport: ms.WebRtcTransport, producerId: string, rtpCapabilities: ms.RtpCapabilities }

interface PendingRestore extends ConsumeArgs { timer: NodeJS.Timeout, creating: boolean }

export interface ConsumerRestoresInit {
  /** How long a consumer waits for its producer. */
  timeoutMs: number
  send: (notification: Notification) => void
  /** Keeps a consumer made again as one of the client's. */
  adopt: (consumer: ms.Consumer, args: ConsumeArgs) => ConsumerInfo
}

export class ConsumerRestores {
  /** By the id of the consumer that closed. */
  private readonly waiting = new Map<string, PendingRestore>()

  constructor (private readonly init: ConsumerRestoresInit) {}

  /** Consumers waiting; each keeps its slot of maxConsumers. */
  get size (): number {
    return this.waiting.size
  }

  has (consumerId: string): boolean {
    return this.waiting.has(consumerId)
  }

  /** The consumer `consumerId` (closed) waits for its producer, at most `timeoutMs`. */
  wait (consumerId: string, args: ConsumeArgs): void {
    const timer = setTimeout(() => this.giveUp(consumerId, true), this.init.timeoutMs)
    timer.unref()
    this.waiting.set(consumerId, { ...args, timer, creating: false })
  }

  /** `producerId` is back in the client's router: its consumers waiting for it are made again. */
  restore (producerId: string): void {
    for (const [oldConsumerId, pending] of this.waiting) {
      if (pending.producerId === producerId && !pending.creating) void this.restoreOne(oldConsumerId, pending)
    }
  }

  /** `producerId` could not be restored in the client's router. */
  fail (producerId: string): void {
    for (const [oldConsumerId, pending] of this.waiting) {
      if (pending.producerId === producerId && !pending.creating) this.giveUp(oldConsumerId, true)
    }
  }

  /** Forgets a consumer waiting for its producer; with `tell`, the client hears it is closed for good. */
  giveUp (oldConsumerId: string, tell: boolean): void {
    const pending = this.waiting.get(oldConsumerId)
    if (pending === undefined) return
    clearTimeout(pending.timer)
    this.waiting.delete(oldConsumerId)
    if (tell) this.init.send({ notification: 'consumerClosed', data: { consumerId: oldConsumerId, producerId: pending.producerId, reason: 'producerclosed' } })
  }

  /** `transport` closed: its consumers cannot be made again. */
  dropTransport (transport: ms.WebRtcTransport): void {
    for (const [consumerId, pending] of this.waiting) if (pending.transport === transport) this.giveUp(consumerId, false)
  }

  /** The client left. */
  clear (): void {
    for (const pending of this.waiting.values()) clearTimeout(pending.timer)
    this.waiting.clear()
  }

  private async restoreOne (oldConsumerId: string, pending: PendingRestore): Promise<void> {
    pending.creating = true
    const { transport, producerId, rtpCapabilities } = pending
    let consumer: ms.Consumer
    try {
      // Paused, as by `consume`: the client resumes it once its side is ready.
      consumer = await transport.consume({ producerId, rtpCapabilities, paused: true })
    } catch (err) {
      log.debug('consumer of %s not restored: %s', producerId, describeError(err))
      if (this.waiting.get(oldConsumerId) === pending) this.giveUp(oldConsumerId, true)
      return
    }
    // The client left (its transports closed) or closed the old consumer meanwhile: either
    // took it off the waiting list.
    if (this.waiting.get(oldConsumerId) !== pending) {
      consumer.close()
      return
    }
    this.giveUp(oldConsumerId, false)
    this.init.send({ notification: 'consumerRestored', data: { oldConsumerId, consumer: this.init.adopt(consumer, pending) } })
  }
}
