// The one error vocabulary of the library: the named errors it throws, and the codes of
// error answers on the wire between nodes (docs/protocol.md). Callers test the class (or
// `name`, or `code`), never message text. Bad arguments are TypeError, as in mediasoup.

/**
 * Codes of error answers between nodes: what went wrong on the answering node.
 * - `not-found`: no such producer or pipe here (or the node is stopping)
 * - `capacity`: no room here, below, or on any node asked to relay
 * - `busy`: the requester is over a per-peer limit (pipes, copies of one producer)
 * - `forbidden`: the request names a media address that is not the requester's
 * - `loop`: the requester is upstream of the answering node's copy
 * - `bad-message`, `too-large`, `unknown-type`: the request failed validation
 * - `internal`: the answering node failed (mediasoup refused, a bug)
 */
export const WIRE_ERROR_CODES = ['not-found', 'capacity', 'busy', 'forbidden', 'loop', 'bad-message', 'too-large', 'unknown-type', 'internal'] as const
export type WireErrorCode = typeof WIRE_ERROR_CODES[number]

/** The codes a message that fails validation is answered with. */
export type ProtocolErrorCode = Extract<WireErrorCode, 'bad-message' | 'too-large' | 'unknown-type'>

/** A RemoteError's code: the peer's error answer, or `unreachable` (no answer channel at all). */
export type RemoteErrorCode = WireErrorCode | 'unreachable'

/** Base class: every error this library throws on purpose extends it. */
export class SwarmError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = this.constructor.name
  }
}

/** No node of the swarm has the producer (or none answered) within the lookup timeout. */
export class ProducerNotFoundError extends SwarmError {
  constructor (readonly producerId: string, detail = '') {
    super(`producer ${producerId} was not found in the swarm${detail === '' ? '' : `: ${detail}`}`)
  }
}

/** Every node that has the producer, and every node asked to relay it, is full. */
export class CapacityError extends SwarmError {
  constructor (readonly producerId: string, detail = '') {
    super(`no capacity in the swarm for another pipe of ${producerId}${detail === '' ? '' : `: ${detail}`}`)
  }
}

/** Redirects for the producer went deeper than `maxRedirects` without reaching a node that serves it. */
export class RedirectLimitError extends SwarmError {
  constructor (readonly producerId: string, readonly maxRedirects: number) {
    super(`producer ${producerId}: no node served it within ${maxRedirects} redirects`)
  }
}

/** The operation needs a state the object is not in (stopped node, closed router…). */
export class InvalidStateError extends SwarmError {}

/** A remote node answered a request with an error, or could not be reached. */
export class RemoteError extends SwarmError {
  constructor (readonly peerId: string, readonly code: RemoteErrorCode, message: string) {
    super(`peer ${peerId} answered ${code}: ${message}`)
  }
}

/**
 * This node refuses a request of another node; answered on the wire with `code` (the
 * handlers throw it, toErrorAnswer() turns it into the answer).
 */
export class RequestRefusedError extends SwarmError {
  constructor (readonly code: WireErrorCode, message: string) {
    super(message)
  }
}

/** A node-to-node message failed validation (shape, type, size). */
export class ProtocolError extends SwarmError {
  constructor (readonly code: ProtocolErrorCode, message: string) {
    super(message)
  }
}

/** A request to another node got no answer in time. */
export class RequestTimeoutError extends SwarmError {}

/** The node could not listen on its listen addresses (in use, not local, unsupported). */
export class ListenError extends SwarmError {
  constructor (readonly addresses: string[], reason: string) {
    super(`cannot listen on ${addresses.join(', ')}: ${reason}`)
  }
}

/** A file given in the options (identity key, pre-shared key) is unreadable or malformed. */
export class KeyFileError extends SwarmError {
  constructor (readonly path: string, reason: string) {
    super(`key file ${path}: ${reason}`)
  }
}

/**
 * The node has no connection and none of its bootstrap addresses answered. Emitted as an
 * 'error' event, not thrown: the node keeps trying after `retryInMs`. Each of `causes`
 * names its address, what happened (refused, unreachable, no answer, the handshake failed)
 * and what to check; libp2p's own error is its `cause`.
 */
export class BootstrapError extends SwarmError {
  constructor (readonly addresses: string[], readonly causes: Error[], readonly retryInMs: number) {
    const reasons = [...new Set(causes.map((c) => c.message.split('\n')[0]))].join('; ')
    super(`could not join the swarm: no bootstrap node answered (${addresses.length} address${addresses.length === 1 ? '' : 'es'})${reasons === '' ? '' : `: ${reasons}`}; retrying in ${Math.round(retryInMs / 1000)} s`)
  }
}

/** A node watches at most MAX_WATCHED_ROOMS rooms at once (node.watchRoom()); a new one past it is refused. */
export class RoomLimitError extends SwarmError {
  constructor (readonly room: string, readonly maxRooms: number) {
    super(`room ${JSON.stringify(room.slice(0, 64))} not watched: this node watches ${maxRooms} rooms already`)
  }
}
