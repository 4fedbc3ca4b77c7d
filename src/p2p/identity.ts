// Persistent node identity: an Ed25519 key kept in a file (libp2p protobuf encoding), so a
// node keeps its peer id across restarts and other nodes' bootstrap lists stay valid.
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { KeyFileError } from '../errors.js'
import type { PrivateKey } from '@libp2p/interface'

/** Reads the identity key from `file`, creating it (mode 0600) when missing. */
export async function loadOrCreateIdentity (file: string): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(file, (err as Error).message)
    const key = await generateKeyPair('Ed25519')
    await writeIdentity(file, key)
    return key
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new KeyFileError(file, `not a libp2p private key (${(err as Error).message})`)
  }
}

/** Writes a new identity file; refuses to overwrite an existing one. */
export async function writeIdentity (file: string, key: PrivateKey): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true })
  try {
    await fs.writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    throw new KeyFileError(file, (err as Error).message)
  }
}
