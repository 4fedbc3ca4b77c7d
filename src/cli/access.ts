// Who may reach the binary's node: private by default (a reachable listen address needs a
// swarm key or an allowlist, or --open-swarm), the peer allowlist (--allow-peer,
// --allow-peers-file) and the bearer token of its HTTP endpoints (--http-token-file). A
// mistake is a UsageError naming the flag or file (and line).
import fs from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { isLoopbackListen } from '../node/options.js'
import { createLogger } from '../logger.js'
import { UsageError } from './errors.js'
import type { StartSettings } from './config.js'

const log = createLogger('cli')

function read (file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Peer ids of an allowlist file: one a line; blank lines and `#` comments are skipped. */
export function readAllowlistFile (file: string): string[] {
  const ids: string[] = []
  read(file, '--allow-peers-file').split(/\r?\n/).forEach((line, i) => {
    const id = line.replace(/#.*/, '').trim()
    if (id === '') return
    try {
      peerIdFromString(id)
    } catch {
      throw new UsageError(`--allow-peers-file ${file} line ${i + 1}: "${id}" is not a peer id`)
    }
    ids.push(id)
  })
  return ids
}

/** The token of a token file (surrounding white space dropped); at least 16 characters. */
export function readTokenFile (file: string): string {
  const token = read(file, '--http-token-file').trim()
  if (token.length < 16) throw new UsageError(`--http-token-file ${file}: the token must be at least 16 characters`)
  return token
}

/** What the access flags and files say. */
export interface Access {
  /** undefined: no allowlist. */
  allowPeers?: string[]
  httpToken?: string
}

function isLoopback (ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1'
}

/** --allow-peer and the --allow-peers-file as it is now; undefined: neither given. */
export function allowlist (s: StartSettings): string[] | undefined {
  if (s.allowPeersFile === undefined) return s.allowPeers.length === 0 ? undefined : s.allowPeers
  return [...new Set([...s.allowPeers, ...readAllowlistFile(s.allowPeersFile)])]
}

/**
 * Private by default: a reachable listen address needs a swarm key or an allowlist, or the
 * operator's explicit --open-swarm (docs/security.md says why). Logs the warnings of
 * --open-swarm and of a non-loopback --http without a token.
 */
export function checkAccess (s: StartSettings): Access {
  const access = { allowPeers: allowlist(s), httpToken: s.httpTokenFile === undefined ? undefined : readTokenFile(s.httpTokenFile) }
  const reachable = s.listen.filter((a) => !isLoopbackListen(a))
  if (reachable.length > 0 && s.swarmKey === undefined && access.allowPeers === undefined) {
    if (!s.openSwarm) {
      throw new UsageError(`--listen ${reachable.join(',')} is reachable from other hosts and the swarm is open: give --swarm-key (make one with psk) or --allow-peer/--allow-peers-file, or --open-swarm to let anyone who reaches it join`)
    }
    log.warn('open swarm on %s: anyone who reaches it can join, learn the producers and pull them (--open-swarm)', reachable.join(', '))
  }
  if (!isLoopback(s.http.host) && access.httpToken === undefined) {
    log.warn('HTTP on %s without --http-token-file: anyone who reaches it can read /status and /metrics', s.http.host)
  }
  return access
}
