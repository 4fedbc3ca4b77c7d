import { format } from 'node:util'
import createDebug from 'debug'
import { namespacesFor } from '../../src/logger.js'

/** Warnings (and errors) the library logs while `fn` runs, as lines; the logger is restored after. */
export function warningsOf (fn: () => void): string[] {
  const lines: string[] = []
  const log = createDebug.log
  createDebug.log = (...args: unknown[]) => { lines.push(format(...args)) }
  try {
    createDebug.enable(namespacesFor('warn'))
    fn()
  } finally {
    createDebug.log = log
    createDebug.disable()
  }
  return lines
}
