// What the client signalling learns about copies of remote producers (docs/client-signalling.md,
// "Restored consumers"): why a copy closed, and whether it came back. A small interface
// rather than a SwarmNode, so the signalling works without a node (or with a test double);
// copyEventsOf() adapts a SwarmNode.
import type { CopyCloseReason, ProducerRestored, RestoreFailed, SwarmNode } from '../node/swarm-node.js'
import type { types as ms } from 'mediasoup'

export type CopyEvent =
  /** The copy of `producerId` in `router` closed (synchronously, before its consumers hear of it). */
  | { type: 'copyclosed', producerId: string, router: ms.Router, reason: CopyCloseReason }
  /** The copy is back in `router`, same producer id. */
  | { type: 'producerrestored', producerId: string, router: ms.Router }
  /** The copy could not be restored in `router`. */
  | { type: 'restorefailed', producerId: string, router: ms.Router }

export interface CopyEventSource {
  /** Calls `listener` with every copy event from now on; returns a function that stops it. */
  onCopyEvents: (listener: (event: CopyEvent) => void) => () => void
}

/** The copy events of a SwarmNode, for the `copyEvents` option of createClientSignalling(). */
export function copyEventsOf (node: Pick<SwarmNode, 'on' | 'off'>): CopyEventSource {
  return {
    onCopyEvents: (listener) => {
      const closed = ({ producerId, router, reason }: { producerId: string, router: ms.Router, reason: CopyCloseReason }): void =>
        listener({ type: 'copyclosed', producerId, router, reason })
      const restored = ({ producerId, router }: ProducerRestored): void => listener({ type: 'producerrestored', producerId, router })
      const failed = ({ producerId, router }: RestoreFailed): void => listener({ type: 'restorefailed', producerId, router })
      node.on('copyclosed', closed)
      node.on('producerrestored', restored)
      node.on('restorefailed', failed)
      return () => {
        node.off('copyclosed', closed)
        node.off('producerrestored', restored)
        node.off('restorefailed', failed)
      }
    }
  }
}
