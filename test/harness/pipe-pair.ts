// Two routers joined by a pair of connected PipeTransports, and producers piped through
// it with the same id: mediasoup's router.pipeToRouter() done by hand, as two swarm
// nodes do it over the network. The ends are the nodes' own (src/media/pipe-transport.ts:
// SRTP and RTX, always), each connected to the endpoint the other would send, so tests
// exercise the same wiring.
import { createPipeTransport, endpointOf } from '../../src/media/pipe-transport.js'
import type { PipeListen } from '../../src/media/pipe-transport.js'
import type { types as ms } from 'mediasoup'

/** Both ends on 127.0.0.1, announced as is. */
export const LOOPBACK_PIPE: PipeListen = { ip: '127.0.0.1', announcedIp: '127.0.0.1' }

export interface PipePairOptions {
  /** Where both ends listen, and the IP each gives the other. Default LOOPBACK_PIPE. */
  listen?: PipeListen
}

export interface PipedProducer {
  /** Consumer of the original producer on the origin's pipe transport. */
  pipeConsumer: ms.Consumer
  /** The copy in the target router, with the original producer's id. */
  pipeProducer: ms.Producer
}

export interface PipePair {
  /** The end in the router the producers live in. */
  readonly originTransport: ms.PipeTransport
  /** The end in the router that receives them. */
  readonly targetTransport: ms.PipeTransport
  /**
   * Makes producer `producerId` of the origin router usable in the target router under
   * the same id. Pause, resume and close follow the original; closing the copy closes
   * the pipe consumer.
   */
  pipeProducer (producerId: string): Promise<PipedProducer>
  /** Closes both transports (and so everything piped). Idempotent. */
  close (): void
}

/** Two ends made with createPipeTransport(), joined with connectPipePair(). */
export async function createPipePair (origin: ms.Router, target: ms.Router, options: PipePairOptions = {}): Promise<PipePair> {
  if (typeof origin?.createPipeTransport !== 'function') throw new TypeError('origin must be a mediasoup Router')
  if (typeof target?.createPipeTransport !== 'function') throw new TypeError('target must be a mediasoup Router')
  if (origin === target) throw new TypeError('origin and target must be different routers')
  const listen = options.listen ?? LOOPBACK_PIPE
  const originTransport = await createPipeTransport(origin, listen)
  let targetTransport: ms.PipeTransport
  try {
    targetTransport = await createPipeTransport(target, listen)
  } catch (err) {
    originTransport.close()
    throw err
  }
  return await connectPipePair(originTransport, targetTransport)
}

/**
 * Connects each of two unconnected PipeTransports to endpointOf() the other: its address
 * and SRTP key, what nodes exchange in pull-ok and connect-pipe. On failure both close.
 */
export async function connectPipePair (originTransport: ms.PipeTransport, targetTransport: ms.PipeTransport): Promise<PipePair> {
  const pair = new Pair(originTransport, targetTransport)
  try {
    await Promise.all([connect(originTransport, targetTransport), connect(targetTransport, originTransport)])
  } catch (err) {
    pair.close()
    throw err
  }
  return pair
}

async function connect (transport: ms.PipeTransport, to: ms.PipeTransport): Promise<void> {
  const { ip, port, srtpParameters } = endpointOf(to)
  await transport.connect({ ip, port, srtpParameters })
}

class Pair implements PipePair {
  constructor (readonly originTransport: ms.PipeTransport, readonly targetTransport: ms.PipeTransport) {
    // Half a pipe is useless: either end closing closes the other.
    originTransport.observer.once('close', () => targetTransport.close())
    targetTransport.observer.once('close', () => originTransport.close())
  }

  async pipeProducer (producerId: string): Promise<PipedProducer> {
    if (typeof producerId !== 'string' || producerId === '') throw new TypeError('producerId must be a non-empty string')
    const pipeConsumer = await this.originTransport.consume({ producerId })
    let pipeProducer: ms.Producer | undefined
    try {
      pipeProducer = await this.targetTransport.produce({
        id: producerId,
        kind: pipeConsumer.kind,
        rtpParameters: pipeConsumer.rtpParameters,
        paused: pipeConsumer.producerPaused
      })
      // The original may have been paused or resumed while the copy was being made.
      if (pipeProducer.paused !== pipeConsumer.producerPaused) {
        await (pipeConsumer.producerPaused ? pipeProducer.pause() : pipeProducer.resume())
      }
    } catch (err) {
      pipeConsumer.close()
      pipeProducer?.close()
      throw err
    }
    follow(pipeConsumer, pipeProducer)
    return { pipeConsumer, pipeProducer }
  }

  close (): void {
    this.originTransport.close()
    this.targetTransport.close()
  }
}

function follow (pipeConsumer: ms.Consumer, pipeProducer: ms.Producer): void {
  // A copy that cannot follow its original's state is closed rather than left wrong.
  const sync = (change: Promise<void>): void => { change.catch(() => pipeProducer.close()) }
  pipeConsumer.observer.on('pause', () => sync(pipeProducer.pause()))
  pipeConsumer.observer.on('resume', () => sync(pipeProducer.resume()))
  pipeConsumer.observer.once('close', () => pipeProducer.close())
  pipeProducer.observer.once('close', () => pipeConsumer.close())
}
