import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createSwarmKey, createSwarmNode, KeyFileError, ListenError } from '../../src/index.js'
import { sleep } from '../harness/index.js'
import { stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

describe('node identity and private swarms', function () {
  this.timeout(20_000)
  let dir: string
  const nodes: SwarmNode[] = []

  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'swarm-test-')) })
  afterEach(async () => {
    await stopAll(nodes.splice(0))
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('an identity file is created when missing and gives the same peer id after a restart', async () => {
    const identityFile = path.join(dir, 'id.key')
    const first = await createSwarmNode({ identityFile })
    const peerId = first.peerId
    await first.stop()
    assert.equal((await fs.stat(identityFile)).mode & 0o777, 0o600)
    const second = await createSwarmNode({ identityFile })
    nodes.push(second)
    assert.equal(second.peerId, peerId)
  })

  it('a malformed identity or swarm key file fails with KeyFileError', async () => {
    const bad = path.join(dir, 'bad.key')
    await fs.writeFile(bad, 'not a key')
    await assert.rejects(createSwarmNode({ identityFile: bad }), KeyFileError)
    await assert.rejects(createSwarmNode({ swarmKeyFile: bad }), KeyFileError)
    await assert.rejects(createSwarmNode({ swarmKeyFile: path.join(dir, 'missing.key') }), KeyFileError)
  })

  it('nodes with the same swarm key connect; a node with another key cannot join', async () => {
    const key1 = path.join(dir, 'swarm1.key')
    const key2 = path.join(dir, 'swarm2.key')
    await fs.writeFile(key1, createSwarmKey())
    await fs.writeFile(key2, createSwarmKey())
    const a = await createSwarmNode({ swarmKeyFile: key1 })
    nodes.push(a)
    const member = await createSwarmNode({ swarmKeyFile: key1, bootstrap: a.multiaddrs })
    nodes.push(member)
    const outsider = await createSwarmNode({ swarmKeyFile: key2, bootstrap: a.multiaddrs })
    nodes.push(outsider)
    const noKey = await createSwarmNode({ bootstrap: a.multiaddrs })
    nodes.push(noKey)
    await sleep(1500)
    assert.deepEqual(member.peers, [a.peerId])
    assert.deepEqual(outsider.peers, [])
    assert.deepEqual(noKey.peers, [])
    assert.deepEqual(a.peers, [member.peerId])
  })

  it('a listen address in use fails with ListenError', async () => {
    const a = await createSwarmNode()
    nodes.push(a)
    const used = a.multiaddrs[0]!.split('/p2p/')[0]!
    await assert.rejects(createSwarmNode({ listen: [used] }), (err: unknown) => err instanceof ListenError && /address in use/.test(err.message))
  })

  it('createSwarmNode() rejects wrong option types with TypeError', async () => {
    await assert.rejects(createSwarmNode({ numWorkers: 0 }), TypeError)
    await assert.rejects(createSwarmNode({ bootstrap: 'x' as never }), TypeError)
    await assert.rejects(createSwarmNode({ addressPolicy: 'everywhere' as never }), TypeError)
    await assert.rejects(createSwarmNode({ timeouts: { lookup: -1 } }), TypeError)
  })
})
