// The one logger of the library and the binary, on the `debug` package as libp2p and
// mediasoup do it: each component logs under `mediasoup-swarm:<component>`, with levels as
// suffixes (`…:error`, `…:warn`, `…:info`, plain for debug, `…:trace`), so
// `DEBUG=mediasoup-swarm:*` shows everything and `DEBUG=mediasoup-swarm:*:error` only errors.
// Lines go to stderr: `<ISO time> mediasoup-swarm:<component>:<level> <message>` (with
// colours and no time on a terminal). The binary maps --log-level onto it (enableLogLevel).
import createDebug from 'debug'

export const LOG_NAMESPACE = 'mediasoup-swarm'

/** Levels from the most to the least important; `none` logs nothing. */
export const LOG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'trace'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** Writes one line when its namespace is enabled; `enabled` lets costly messages be skipped. */
type Write = ((formatter: string, ...args: unknown[]) => void) & { readonly enabled: boolean }

/** printf-style (`%s`, `%d`, `%o`), as `debug`. */
export interface Logger {
  error: Write
  warn: Write
  info: Write
  debug: Write
  trace: Write
}

const SUFFIX: Record<Exclude<LogLevel, 'none'>, string> = { error: ':error', warn: ':warn', info: ':info', debug: '', trace: ':trace' }

/** A logger for one component, e.g. `createLogger('node:pull')`. */
export function createLogger (component: string): Logger {
  const at = (level: Exclude<LogLevel, 'none'>): Write => createDebug(`${LOG_NAMESPACE}:${component}${SUFFIX[level]}`)
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace') }
}

/** The DEBUG namespaces that show `level` and everything more important. */
export function namespacesFor (level: LogLevel): string {
  const all = `${LOG_NAMESPACE}:*`
  switch (level) {
    case 'none': return ''
    case 'trace': return all
    case 'debug': return `${all},-${all}:trace`
    default: return LOG_LEVELS.slice(1, LOG_LEVELS.indexOf(level) + 1).map((l) => `${all}:${l}`).join(',')
  }
}

/**
 * Logs `level` and above from now on, plus whatever the DEBUG environment variable
 * already asks for (libp2p's or mediasoup's namespaces, for instance).
 */
export function enableLogLevel (level: LogLevel, debugVariable = process.env.DEBUG): void {
  createDebug.enable([namespacesFor(level), debugVariable ?? ''].filter((n) => n !== '').join(','))
}

/** Short form of an error for a log line. */
export function describeError (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
