// Numbers for benchmark and demo output: packet loss, latency percentiles, text tables.

export interface LossReport {
  sent: number
  received: number
  /** Packets sent but not received; 0 when more arrived than were counted as sent. */
  lost: number
  /** lost / sent in percent; NaN when nothing was sent. */
  lossPercent: number
  /**
   * received / sent in percent; NaN when nothing was sent. Not capped at 100: a value
   * above it means the measuring windows of sender and receiver did not line up.
   */
  deliveryPercent: number
}

export interface LatencyStats {
  count: number
  /** The following are in the unit of the samples; NaN when there are none. */
  min: number
  max: number
  mean: number
  p50: number
  p95: number
  p99: number
}

export function lossReport (sent: number, received: number): LossReport {
  assertCount(sent, 'sent')
  assertCount(received, 'received')
  const lost = Math.max(0, sent - received)
  return {
    sent,
    received,
    lost,
    lossPercent: sent === 0 ? NaN : lost / sent * 100,
    deliveryPercent: sent === 0 ? NaN : received / sent * 100
  }
}

/**
 * The p-th percentile (0 ≤ p ≤ 100) by linear interpolation between the closest ranks
 * (numpy's default); NaN for no samples. Does not modify `samples`.
 */
export function percentile (samples: readonly number[], p: number): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) throw new TypeError(`p must be within 0..100, got ${String(p)}`)
  return percentileOfSorted(sortedCopy(samples), p)
}

export function p50 (samples: readonly number[]): number { return percentile(samples, 50) }
export function p95 (samples: readonly number[]): number { return percentile(samples, 95) }
export function p99 (samples: readonly number[]): number { return percentile(samples, 99) }

export function latencyStats (samples: readonly number[]): LatencyStats {
  const sorted = sortedCopy(samples)
  const count = sorted.length
  return {
    count,
    min: count === 0 ? NaN : sorted[0]!,
    max: count === 0 ? NaN : sorted[count - 1]!,
    mean: count === 0 ? NaN : sorted.reduce((sum, x) => sum + x, 0) / count,
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99)
  }
}

export type TableRow = Record<string, string | number>

/**
 * Renders rows as an aligned text table, columns in the order of first appearance;
 * numbers are right-aligned with `decimals` digits (default 1), integers as they are.
 */
export function formatTable (rows: readonly TableRow[], decimals = 1): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))]
  const cell = (value: string | number | undefined): string =>
    typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(decimals)) : (value ?? '')
  const body = rows.map((row) => columns.map((c) => cell(row[c])))
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((cells) => cells[i]!.length)))
  const numeric = columns.map((c) => rows.every((row) => row[c] === undefined || typeof row[c] === 'number'))
  const line = (cells: string[]): string =>
    cells.map((text, i) => numeric[i] === true ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

function sortedCopy (samples: readonly number[]): number[] {
  if (!Array.isArray(samples)) throw new TypeError('samples must be an array of numbers')
  if (samples.some((x) => typeof x !== 'number' || Number.isNaN(x))) throw new TypeError('samples must be numbers, not NaN')
  return [...samples].sort((a, b) => a - b)
}

function percentileOfSorted (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const rank = p / 100 * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low)
}

function assertCount (value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be an integer >= 0, got ${String(value)}`)
  }
}
