// Pre-shared swarm key (libp2p private network): only nodes holding the same key can
// connect. Standard `/key/swarm/psk/1.0.0/` text file, as made by @libp2p/pnet's
// generateKey (written here so that a node without a swarm key never loads pnet).
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { KeyFileError } from '../errors.js'

export async function loadSwarmKey (file: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    throw new KeyFileError(file, (err as Error).message)
  }
  const lines = new TextDecoder().decode(bytes).trim().split(/\r?\n/)
  if (lines[0] !== '/key/swarm/psk/1.0.0/' || lines[1] !== '/base16/' || !/^[0-9a-f]{64}$/i.test(lines[2] ?? '')) {
    throw new KeyFileError(file, 'not a swarm key (expected /key/swarm/psk/1.0.0/, /base16/, 64 hex digits)')
  }
  return bytes
}

/** A new swarm key in the standard text format. */
export function createSwarmKey (): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`)
}
