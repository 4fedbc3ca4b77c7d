// Errors of the binary and its exit codes. A UsageError is the operator's to fix (a flag, a
// file, a port): main prints its message as one line on stderr and exits with EXIT_USAGE.

import { SwarmError } from '../errors.js'

export const EXIT_OK = 0
/** A failure while running (a worker died, an unexpected error). */
export const EXIT_FAILURE = 1
/** Bad input: flag, value, subcommand, key file, address or port. */
export const EXIT_USAGE = 2

export class UsageError extends SwarmError {}

const SOCKET_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied (ports below 1024 need privileges)'
}

/** Words for a listen() failure code, e.g. EADDRINUSE → "address already in use". */
export function describeSocketError (code: string | undefined, fallback: string): string {
  return (code === undefined ? undefined : SOCKET_ERRORS[code]) ?? fallback
}
