import '../src/platform/promise-with-resolvers.js'
// The timing of one setup (call → first RTP packet at a sink), shared by the setup-latency
// benchmarks: the in-process one (every node in this process) and the one with a process
// per node (bench/node-process.ts runs these functions inside the requesting node's process).
import { median, summary } from './common.js'
import type { TableRow } from '../test/harness/index.js'
import type { Sample } from '../test/harness/timing.js'

export const TARGET_COLD_P50_MS = 25
export const TARGET_WARM_P50_MS = 8

export interface Case { label: string, samples: Sample[], target?: number }

/** A Sample with only `total` (a bare round trip). */
export function totalOnly (total: number): Sample {
  return { total, lookup: NaN, pull: NaN, resolve: NaN, sink: NaN, wait: NaN, busy: NaN, cpu: NaN }
}

/** One line of the setup-latency tables; `cpu` adds the measuring process's CPU time. */
export function row (c: Case, cpu = false): TableRow {
  const s = summary(c.samples.map((x) => x.total))
  const p50 = (pick: (x: Sample) => number): number => median(c.samples.map(pick).filter((x) => !Number.isNaN(x)))
  return {
    case: c.label,
    n: s.n,
    'p50 ms': s.p50,
    'p95 ms': s.p95,
    'max ms': s.max,
    'target p50': c.target === undefined ? '' : `≤ ${c.target} ms ${s.p50 <= c.target ? '(met)' : '(missed)'}`,
    'p50 lookup': p50((x) => x.lookup),
    'p50 pull': p50((x) => x.pull),
    'p50 resolve': p50((x) => x.resolve),
    'p50 sink': p50((x) => x.sink),
    'p50 1st-pkt wait': p50((x) => x.wait),
    'p50 excl. wait': p50((x) => x.total - x.wait),
    'p50 JS busy %': p50((x) => x.busy),
    ...(cpu ? { 'p50 CPU ms': p50((x) => x.cpu) } : {})
  }
}
