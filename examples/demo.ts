import '../src/platform/promise-with-resolvers.js'
// Interim demo: synthetic audio and video from a router on one mediasoup worker, piped to a
// router on another worker through a PipeTransport pair with SRTP (the data plane two
// swarm nodes use), counted at the far end once a second.
// Usage: npm run demo [-- --seconds N]   (default 10; Ctrl-C stops early)
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import * as mediasoup from 'mediasoup'
import type { types as ms } from 'mediasoup'
import { createPipePair, createRtpSink, createRtpSource, formatTable, latencyStats, lossReport, mediaCodecs } from '../test/harness/index.js'
import type { MediaKind, RtpSink, RtpSource } from '../test/harness/index.js'

const DEFAULT_SECONDS = 10
const KINDS: readonly MediaKind[] = ['audio', 'video']

interface Stream { kind: MediaKind, source: RtpSource, sink: RtpSink }

/** The --seconds value; undefined for a bad or unknown flag. */
function parseSeconds (): number | undefined {
  let value: string
  try {
    value = parseArgs({ options: { seconds: { type: 'string', default: String(DEFAULT_SECONDS) } } }).values.seconds
  } catch {
    return undefined
  }
  const seconds = Number(value)
  return Number.isInteger(seconds) && seconds > 0 ? seconds : undefined
}

async function main (seconds: number): Promise<void> {
  const interrupted = new AbortController()
  const onSigint = (): void => interrupted.abort()
  process.once('SIGINT', onSigint)
  const workers: ms.Worker[] = []
  try {
    for (let i = 0; i < 2; i++) workers.push(await mediasoup.createWorker({ logLevel: 'warn' }))
    const origin = await workers[0]!.createRouter({ mediaCodecs })
    const target = await workers[1]!.createRouter({ mediaCodecs })
    const pair = await createPipePair(origin, target)
    const streams: Stream[] = []
    for (const kind of KINDS) {
      const source = await createRtpSource({ router: origin, kind })
      await pair.pipeProducer(source.producer.id)
      streams.push({ kind, source, sink: await createRtpSink({ router: target, producerId: source.producer.id }) })
    }
    const { originTransport: from, targetTransport: to } = pair
    console.log(`worker ${workers[0]!.pid} -> worker ${workers[1]!.pid}: pipe ${from.tuple.localPort} -> ${to.tuple.localPort} (SRTP ${from.srtpParameters?.cryptoSuite}), ${seconds} s, Ctrl-C stops`)

    const startedAt = performance.now()
    for (let second = 1; second <= seconds; second++) {
      try {
        await sleep(Math.max(0, startedAt + second * 1000 - performance.now()), undefined, { signal: interrupted.signal })
      } catch (err) {
        if (interrupted.signal.aborted) break
        throw err
      }
      const counts = streams.map(({ kind, source, sink }) => `${kind} sent ${String(source.sent).padStart(5)} received ${String(sink.packets).padStart(5)}`)
      console.log(`${String(second).padStart(3)} s  ${counts.join('  |  ')}`)
    }

    // Totals once nothing is in flight, so sent and received compare exactly.
    for (const { source } of streams) source.stop()
    await Promise.all(streams.map(async ({ sink }) => await sink.waitForSilence(200)))
    console.log(formatTable(streams.map(({ kind, source, sink }) => {
      const loss = lossReport(source.sent, sink.packets)
      const latency = latencyStats(sink.latencies)
      return { kind, sent: loss.sent, received: loss.received, 'delivery %': loss.deliveryPercent, 'latency p50 ms': latency.p50, 'p95 ms': latency.p95 }
    }), 2))
  } finally {
    process.off('SIGINT', onSigint)
    for (const worker of workers) worker.close()
  }
}

const seconds = parseSeconds()
if (seconds === undefined) {
  console.error('usage: tsx examples/demo.ts [--seconds N]   (N: a whole number of seconds > 0)')
  process.exitCode = 2
} else {
  await main(seconds)
}
