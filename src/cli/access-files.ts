// Files of the binary that say who may reach the node: the peer allowlist
// (--allow-peers-file) and the bearer token of its HTTP endpoints (--http-token-file).
// A mistake is a UsageError naming the file (and line).
import fs from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { UsageError } from './errors.js'

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
