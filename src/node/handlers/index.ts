// Requests from other nodes, one handler per message type (docs/protocol.md), looked up in
// a table. A handler returns its answer or throws a named error, which toErrorAnswer()
// turns into the error answer: the dispatcher stays tiny.
import { createLogger, describeError } from '../../logger.js'
import { toErrorAnswer } from '../../protocol/error-answer.js'
import type { Request, Response } from '../../protocol/messages.js'
import type { RequestHandler } from '../../protocol/rpc.js'

const log = createLogger('node:handlers')

export type RequestType = Request['type']
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>
export type Handler<T extends RequestType> = (request: RequestOf<T>, peerId: string) => Promise<Response> | Response
export type HandlerTable = { [T in RequestType]: Handler<T> }

export interface DispatchHooks {
  /** Every valid request, before it is handled (counting). */
  received: (type: RequestType, peerId: string) => void
  /** True once the node stops: requests are answered `not-found`, so peers look elsewhere. */
  stopping: () => boolean
  /** A handler failed with an error that has no wire code of its own (a bug, mediasoup). */
  internalError: (err: Error, request: Request, peerId: string) => void
}

export function dispatcher (table: HandlerTable, hooks: DispatchHooks): RequestHandler {
  return async (request, peerId) => {
    hooks.received(request.type, peerId)
    if (hooks.stopping()) return { type: 'error', code: 'not-found', message: 'node is stopping' }
    const handler = table[request.type] as Handler<RequestType>
    try {
      return await handler(request, peerId)
    } catch (err) {
      const answer = toErrorAnswer(err)
      if (answer.code === 'internal') hooks.internalError(err as Error, request, peerId)
      else log.debug('%s from %s answered %s: %s', request.type, peerId, answer.code, describeError(err))
      return answer
    }
  }
}
