// Request/response over libp2p streams: a new stream per request (≈1 ms on a live
// connection), one length-prefixed frame each way, both bounded by a deadline.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProtocolError, RemoteError, RequestTimeoutError, SwarmError } from '../errors.js'
import { decodeRequest, decodeResponse, encode, MAX_MESSAGE_BYTES } from './messages.js'
import type { ErrorCode, Request, Response } from './messages.js'
import type { Libp2p } from '@libp2p/interface'

export type RequestHandler = (request: Request, peerId: string) => Promise<Response>

/** Called for every request that failed validation, with the error code (for counting). */
export type BadRequestListener = (code: ErrorCode, peerId: string) => void

export async function serve (host: Libp2p, protocol: string, handler: RequestHandler, onBad: BadRequestListener): Promise<void> {
  await host.handle(protocol, async (stream, connection) => {
    const peerId = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES + 1 })
    const signal = AbortSignal.timeout(10_000)
    let response: Response
    try {
      const bytes = await lp.read({ signal })
      let request: Request
      try {
        request = decodeRequest(bytes.subarray())
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err
        onBad(err.code, peerId)
        response = { type: 'error', code: err.code, message: err.message }
        await lp.write(encode(response), { signal })
        await stream.close({ signal })
        return
      }
      response = await handler(request, peerId)
      await lp.write(encode(response), { signal })
      await stream.close({ signal })
    } catch (err) {
      // A frame over the size limit fails inside lpStream before it reaches the decoder.
      if ((err as Error).name === 'InvalidDataLengthError') onBad('too-large', peerId)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
}

/** Sends one request and returns the answer; error answers become RemoteError. */
export async function request (host: Libp2p, peerId: string, protocol: string, req: Request, timeoutMs: number): Promise<Exclude<Response, { type: 'error' }>> {
  const signal = AbortSignal.timeout(timeoutMs)
  let response: Response
  try {
    const stream = await host.dialProtocol(peerIdFromString(peerId), protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    await lp.write(encode(req), { signal })
    const bytes = await lp.read({ signal })
    // The answer is in: closing (the remote's end closes too) need not hold the caller up.
    stream.close({ signal }).catch(() => {})
    response = decodeResponse(bytes.subarray())
  } catch (err) {
    if (err instanceof SwarmError) throw err
    if (signal.aborted) throw new RequestTimeoutError(`${req.type} to ${peerId} got no answer within ${timeoutMs} ms`)
    throw new RemoteError(peerId, 'unreachable', (err as Error).message)
  }
  if (response.type === 'error') throw new RemoteError(peerId, response.code, response.message)
  return response
}
