// Two routers joined by a pair of connected PipeTransports, and producers piped through
// it with the same id: mediasoup's router.pipeToRouter() done by hand, as two swarm
// nodes do it over the network, so tests and the demo exercise the same wiring.
import type { types as ms } from 'mediasoup'

export interface PipePairOptions {
  /** IP both transports listen on. Default '127.0.0.1'. */
  listenIp?: string
  /** Encrypt the pipe (each end gets the other's SRTP key on connect). Default true. */
  enableSrtp?: boolean
  /** Retransmit lost packets over the pipe. Default true. */
  enableRtx?: boolean
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

export async function createPipePair (origin: ms.Router, target: ms.Router, options: PipePairOptions = {}): Promise<PipePair> {
  if (typeof origin?.createPipeTransport !== 'function') throw new TypeError('origin must be a mediasoup Router')
  if (typeof target?.createPipeTransport !== 'function') throw new TypeError('target must be a mediasoup Router')
  if (origin === target) throw new TypeError('origin and target must be different routers')
  const settings: ms.PipeTransportOptions = {
    listenInfo: { protocol: 'udp', ip: options.listenIp ?? '127.0.0.1' },
    enableSrtp: options.enableSrtp ?? true,
    enableRtx: options.enableRtx ?? true,
    enableSctp: false
  }
  const originTransport = await origin.createPipeTransport(settings)
  let targetTransport: ms.PipeTransport
  try {
    targetTransport = await target.createPipeTransport(settings)
  } catch (err) {
    originTransport.close()
    throw err
  }
  const pair = new Pair(originTransport, targetTransport)
  try {
    await Promise.all([connect(pair.originTransport, pair.targetTransport), connect(pair.targetTransport, pair.originTransport)])
  } catch (err) {
    pair.close()
    throw err
  }
  return pair
}

async function connect (transport: ms.PipeTransport, to: ms.PipeTransport): Promise<void> {
  await transport.connect({ ip: to.tuple.localIp, port: to.tuple.localPort, srtpParameters: to.srtpParameters })
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
