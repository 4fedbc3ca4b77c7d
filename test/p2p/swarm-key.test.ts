import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateKey } from '@libp2p/pnet'
import { createSwarmKey, KeyFileError } from '../../src/index.js'
import { loadSwarmKey } from '../../src/p2p/swarm-key.js'

describe('swarm key files', () => {
  let dir: string
  before(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'swarm-key-')) })
  after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

  it('createSwarmKey writes what @libp2p/pnet\'s generateKey writes: the same header and length, 32 random bytes in hex', () => {
    const ours = new TextDecoder().decode(createSwarmKey())
    const pnets = new Uint8Array(95)
    generateKey(pnets)
    const theirs = new TextDecoder().decode(pnets)
    assert.equal(ours.length, theirs.length)
    assert.equal(ours.slice(0, 31), theirs.slice(0, 31))
    assert.match(ours, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    assert.notEqual(ours, new TextDecoder().decode(createSwarmKey()), 'two keys differ')
  })

  it('loadSwarmKey reads a created key back, and names the file of one that is not a key', async () => {
    const good = path.join(dir, 'good.key')
    const key = createSwarmKey()
    await fs.writeFile(good, key)
    assert.deepEqual(new Uint8Array(await loadSwarmKey(good)), key)
    const bad = path.join(dir, 'bad.key')
    await fs.writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex')
    await assert.rejects(loadSwarmKey(bad), (err: Error) => err instanceof KeyFileError && err.message.includes(bad))
  })
})
