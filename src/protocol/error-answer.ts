// The one place where an error becomes an error answer on the wire: request handlers
// throw named errors (src/errors.ts) and the dispatcher answers with this.
import { CapacityError, InvalidStateError, ProducerNotFoundError, ProtocolError, RedirectLimitError, RequestRefusedError } from '../errors.js'
import type { WireErrorCode } from '../errors.js'
import type { ErrorAnswer } from './messages.js'

/** Longest message text sent back; the peer may log it. */
const MAX_MESSAGE_LENGTH = 500

/** The wire code for `err`: its own code when it has one, `internal` for anything unnamed. */
export function wireCodeOf (err: unknown): WireErrorCode {
  if (err instanceof RequestRefusedError || err instanceof ProtocolError) return err.code
  if (err instanceof CapacityError || err instanceof RedirectLimitError) return 'capacity'
  // A stopping node, or a producer it could not get: the requester looks elsewhere.
  if (err instanceof ProducerNotFoundError || err instanceof InvalidStateError) return 'not-found'
  return 'internal'
}

export function toErrorAnswer (err: unknown): ErrorAnswer {
  const message = err instanceof Error ? err.message : String(err)
  return { type: 'error', code: wireCodeOf(err), message: message.slice(0, MAX_MESSAGE_LENGTH) }
}
