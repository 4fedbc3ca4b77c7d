import '../src/platform/promise-with-resolvers.js'
// Cost of one media-quality round (src/observability/media-sampler.ts): two nodes, N
// producers on A (real RTP, 10 packets/s each) piped to B, so A samples N producers and N
// pipe consumers and B N copies. Per N: the round's wall time (p50, max of ROUNDS rounds)
// and the Node.js CPU time it took, beside the target (a round well within its period).
import { MediaTracker } from '../src/observability/media-tracker.js'
import { MEDIA_SAMPLE_PERIOD_MS } from '../src/observability/media-sampler.js'
import { createRtpSource, formatTable } from '../test/harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../test/harness/swarm.js'
import { heading, summary } from './common.js'
import type { RtpSource, TableRow } from '../test/harness/index.js'
import type { Benchmark } from './common.js'
import type { SwarmNode } from '../src/index.js'

const PIPE_STREAMS = [10, 50, 100]
const ROUNDS = 10
/** A round's wall time: at most 1 % of the default period. */
const TARGET_MS = MEDIA_SAMPLE_PERIOD_MS / 100

async function run (): Promise<void> {
  heading(`One media-quality round, ${ROUNDS} rounds per row; target ≤ ${TARGET_MS} ms (1 % of the ${MEDIA_SAMPLE_PERIOD_MS / 1000} s period)`)
  const rows: TableRow[] = []
  for (const n of PIPE_STREAMS) {
    const [a, b] = await startChain(2) as [SwarmNode, SwarmNode]
    const sources: RtpSource[] = []
    // Periods longer than the run: only the rounds timed here run.
    const trackers = [new MediaTracker(a, { samplePeriodMs: 3_600_000 }), new MediaTracker(b, { samplePeriodMs: 3_600_000 })]
    try {
      await waitConnected([a, b])
      const routerA = await a.createRouter({ mediaCodecs })
      const routerB = await b.createRouter({ mediaCodecs })
      for (let i = 0; i < n; i++) {
        const source = await createRtpSource({ router: routerA, kind: i % 2 === 0 ? 'audio' : 'video', packetsPerSecond: 10 })
        sources.push(source)
        await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
      }
      for (const [node, tracker, objects] of [[a, trackers[0]!, 2 * n], [b, trackers[1]!, n]] as const) {
        await tracker.sampleQuality()
        const wall: number[] = []
        const cpu: number[] = []
        for (let r = 0; r < ROUNDS; r++) {
          const before = process.cpuUsage()
          const sample = await tracker.sampleQuality()
          const used = process.cpuUsage(before)
          wall.push(sample.durationMs)
          cpu.push((used.user + used.system) / 1000)
        }
        const w = summary(wall)
        rows.push({
          'pipe streams': n,
          node: node === a ? 'A (sends)' : 'B (receives)',
          'objects read': objects,
          'wall p50 ms': w.p50,
          'wall max ms': w.max,
          'Node CPU p50 ms': summary(cpu).p50,
          'target ms': `≤ ${TARGET_MS}`
        })
      }
    } finally {
      for (const s of sources) s.close()
      for (const t of trackers) t.close()
      await stopAll([a, b])
    }
  }
  console.log(formatTable(rows))
}

export const mediaSampling: Benchmark = { name: 'media-sampling', title: 'cost of one media-quality sampling round with N pipe streams', run }
