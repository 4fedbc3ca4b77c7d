// The binary's log: one line per event on stderr, `<ISO time> <level> <message>`, so a
// supervisor (systemd's journal, docker logs) keeps it as is. The start line and command
// output go to stdout instead. libp2p and mediasoup keep their own DEBUG= switches.
import { LOG_LEVELS } from './settings.js'
import type { LogLevel } from './settings.js'

export interface Logger {
  error: (message: string) => void
  warn: (message: string) => void
  info: (message: string) => void
  debug: (message: string) => void
}

export function createLogger (level: LogLevel, write: (line: string) => void): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (l: LogLevel) => (message: string): void => {
    if (LOG_LEVELS.indexOf(l) <= threshold) write(`${new Date().toISOString()} ${l} ${message}\n`)
  }
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}
