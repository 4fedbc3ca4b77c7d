// The binary's log: one line per event on stderr, `<ISO time> <level> <message>`, kept as
// is by a supervisor (systemd's journal, docker logs). The start line and command output go
// to stdout. libp2p and mediasoup keep their own DEBUG= switches (docs/operations.md).
import { LOG_LEVELS } from './config.js'
import type { LogLevel } from './config.js'

export interface Logger {
  error: (message: string) => void
  warn: (message: string) => void
  info: (message: string) => void
  debug: (message: string) => void
}

export function createLogger (level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (l: Exclude<LogLevel, 'none'>) => (message: string): void => {
    if (LOG_LEVELS.indexOf(l) <= threshold) write(`${new Date().toISOString()} ${l} ${message}\n`)
  }
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}
