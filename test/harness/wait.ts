// Waiting helpers for tests and benchmarks: every wait has a deadline and fails with an
// error that says what was awaited and how far it got, so a red test explains itself.
import { once } from 'node:events'
import type { EventEmitter } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'

export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_INTERVAL_MS = 20

/** A harness wait ran out of time. */
export class HarnessTimeoutError extends Error {
  /** What was awaited, e.g. `'100 packets at the sink'`. */
  readonly what: string
  readonly timeoutMs: number
  /** The state when time ran out, e.g. `'42 of 100 packets'`; undefined when not tracked. */
  readonly progress: string | undefined

  constructor (what: string, timeoutMs: number, progress?: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${progress === undefined ? '' : ` (got ${progress})`}`)
    this.name = 'HarnessTimeoutError'
    this.what = what
    this.timeoutMs = timeoutMs
    this.progress = progress
  }
}

export interface WaitForOptions {
  /** Deadline. Default 5000 ms. */
  timeoutMs?: number
  /** Time between two checks. Default 20 ms. */
  intervalMs?: number
  /** What is awaited, for the timeout message. Default `'condition'`. */
  what?: string
  /** Describes the current state, called once on timeout for the message. */
  progress?: () => string
}

export function sleep (ms: number): Promise<void> {
  assertDuration(ms, 'ms')
  return delay(ms)
}

/**
 * Resolves once `predicate` returns true (checked at once, then every `intervalMs`);
 * rejects with HarnessTimeoutError after `timeoutMs`, or with what the predicate throws.
 */
export async function waitFor (predicate: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  if (typeof predicate !== 'function') throw new TypeError('predicate must be a function')
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
  assertDuration(timeoutMs, 'timeoutMs')
  assertDuration(intervalMs, 'intervalMs')
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() >= deadline) {
      throw new HarnessTimeoutError(options.what ?? 'condition', timeoutMs, options.progress?.())
    }
    await delay(intervalMs)
  }
}

/** Resolves with the arguments of the next `event`; HarnessTimeoutError after `timeoutMs`. */
export async function waitForEvent (emitter: EventEmitter, event: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown[]> {
  assertDuration(timeoutMs, 'timeoutMs')
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    return await once(emitter, event, { signal })
  } catch (err) {
    if (signal.aborted) throw new HarnessTimeoutError(`event '${event}'`, timeoutMs)
    throw err
  }
}

function assertDuration (value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0, got ${String(value)}`)
  }
}
