// Liveness pings as Yamux ping frames on the connection a peer already has: one 12-byte
// frame each way, 6 packets and ≈ 370 bytes on the wire, where a libp2p ping opens a
// stream, negotiates its protocol and closes it: 31 packets and ≈ 2 150 bytes (measured
// on loopback, docs/benchmarks.md section 6). Every connected peer is pinged every
// `timeouts.ping`, so this is most of a node's traffic at rest. The frame is answered by
// the peer's Yamux, in its Node.js event loop: a frozen process answers neither kind.
import { createLogger } from '../logger.js'
import type { Host } from './host.js'
import type { AbortOptions, Connection, PeerId } from '@libp2p/interface'

const log = createLogger('p2p:ping')

/** Yamux's muxer (@chainsafe/libp2p-yamux): its `ping()` is public, its connection's field is not. */
interface PingingMuxer { ping: (options?: AbortOptions) => Promise<number> }

/** The Yamux muxer of an open connection, if it has one that pings. */
export function pingingMuxer (connection: Connection): PingingMuxer | undefined {
  if (connection.status !== 'open') return undefined
  const muxer = (connection as unknown as { muxer?: Partial<PingingMuxer> }).muxer
  return typeof muxer?.ping === 'function' ? muxer as PingingMuxer : undefined
}

/**
 * Pings `peer` and resolves with the round-trip time in ms, or rejects when `signal` ends
 * first (a TimeoutError for AbortSignal.timeout()). On an open connection with Yamux, a
 * Yamux ping; otherwise a libp2p ping (which dials the peer if needed).
 */
export async function pingPeer (host: Host, peer: PeerId, signal: AbortSignal): Promise<number> {
  const muxer = host.getConnections(peer).map(pingingMuxer).find((m) => m !== undefined)
  if (muxer === undefined) return await host.services.ping.ping(peer, { signal })
  signal.throwIfAborted()
  const started = performance.now()
  // Not given the signal: Yamux takes the answer to a ping it stopped waiting for as a
  // protocol error and closes the whole connection. A ping sent while one is under way
  // waits for the same answer, so a late answer still counts.
  const pong = muxer.ping()
  pong.catch((err: Error) => log.trace('ping of %s: %s', peer, err.message))
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    pong.then(() => resolve(), reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
  return performance.now() - started
}
