// Private by default and the peer allowlist (docs/security.md): real nodes on 127.0.0.1 with
// one swarm key; a node that has the key but is not listed is refused in the handshake
// (its connection never opens on the listing node, so no protocol runs there), a listed one
// joins; the binary refuses an open swarm on a reachable address and reloads its allowlist
// file on SIGHUP.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { format } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import createDebug from 'debug'
import { createNodeMetrics, createSwarmKey, createSwarmNode } from '../../src/index.js'
import { checkAccess } from '../../src/cli/access.js'
import { resolveStartSettings } from '../../src/cli/config.js'
import { UsageError } from '../../src/cli/errors.js'
import { namespacesFor } from '../../src/logger.js'
import { warningsOf } from '../harness/warnings.js'
import { writeIdentity } from '../../src/p2p/identity.js'
import { killAll, LOCAL, run, sample, startBinary, getText } from '../cli/binary.js'
import { sleep, waitFor } from '../harness/index.js'
import { startChain, stopAll } from '../harness/swarm.js'
import type { Binary } from '../cli/binary.js'
import type { Connection } from '@libp2p/interface'
import type { StartSettings } from '../../src/cli/config.js'
import type { SwarmNode } from '../../src/index.js'

/** An identity file and its peer id, made before the node starts (so another node can list it). */
async function identity (dir: string, name: string): Promise<{ file: string, peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  const file = path.join(dir, `${name}.key`)
  await writeIdentity(file, key)
  return { file, peerId: peerIdFromPrivateKey(key).toString() }
}

/** Peer ids whose connections opened on `node` (after the handshake and the gater). */
function openedFrom (node: SwarmNode): Set<string> {
  const opened = new Set<string>()
  node.libp2p.addEventListener('connection:open', (event) => opened.add(event.detail.remotePeer.toString()))
  return opened
}

describe('private by default and the peer allowlist', function () {
  this.timeout(90_000)
  let dir: string
  let swarmKeyFile: string
  const nodes: SwarmNode[] = []
  const binaries: Binary[] = []

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-allowlist-'))
    swarmKeyFile = path.join(dir, 'swarm.key')
    fs.writeFileSync(swarmKeyFile, createSwarmKey())
  })
  afterEach(async () => {
    killAll(binaries)
    await stopAll(nodes.splice(0))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('createSwarmNode() throws TypeError for a non-loopback listen address with neither swarm key nor allowlist, unless openSwarm', async () => {
    const reachable = ['/ip4/0.0.0.0/tcp/0']
    await assert.rejects(createSwarmNode({ listen: reachable }), TypeError)
    await assert.rejects(createSwarmNode({ listen: ['/ip4/127.0.0.1/tcp/0', ...reachable] }), TypeError)
    await assert.rejects(createSwarmNode({ listen: reachable, openSwarm: 'yes' as never }), TypeError)
    await assert.rejects(createSwarmNode({ allowPeers: ['not-a-peer-id'] }), TypeError)
    for (const options of [{ openSwarm: true }, { swarmKeyFile }, { allowPeers: [] }]) {
      const node = await createSwarmNode({ listen: reachable, ...options })
      nodes.push(node)
      assert.ok(node.multiaddrs.length > 0)
    }
    assert.throws(() => nodes[0]!.setAllowedPeers(['nope']), TypeError)
  })

  it('a node with another swarm key, or none, is refused in the handshake (counted as handshake) and its error says why', async () => {
    const a = await createSwarmNode({ swarmKeyFile })
    nodes.push(a)
    const opened = openedFrom(a)
    const otherKey = path.join(dir, 'other.key')
    fs.writeFileSync(otherKey, createSwarmKey())
    for (const options of [{ swarmKeyFile: otherKey }, {}]) {
      const outsider = await createSwarmNode({ ...options, bootstrap: a.multiaddrs })
      nodes.push(outsider)
      const errors: Error[] = []
      outsider.on('error', (err: Error) => errors.push(err))
      // A handshake that stalls instead (each side waiting for the other's garbage) ends as a dial timeout.
      const said = (): boolean => errors.some((e) => e.name === 'BootstrapError' && /(the handshake failed|connected, but the handshake did not complete within \d+ ms): most likely a different swarm key on each side, or a key on one side only/.test(e.message))
      await waitFor(said, { timeoutMs: 30_000, what: 'a BootstrapError naming the swarm keys', progress: () => errors.map((e) => e.message).join('\n') })
      assert.equal(opened.size, 0)
    }
    await waitFor(() => a.connectionRefusalCounts.handshake >= 2, { timeoutMs: 10_000, what: 'two handshakes refused', progress: () => JSON.stringify(a.connectionRefusalCounts) })
  })

  it('a node with the swarm key but not on the allowlist is refused in the handshake; a listed one joins', async () => {
    const listed = await identity(dir, 'listed')
    const a = await createSwarmNode({ swarmKeyFile, allowPeers: [listed.peerId] })
    nodes.push(a)
    const opened = openedFrom(a)
    const metrics = createNodeMetrics(a)
    const before = await metrics.registry.metrics()
    assert.equal(sample(before, 'mediasoup_swarm_connection_refusals_total{reason="notallowed"}'), 0)
    assert.match(before, /mediasoup_swarm_connection_refusals_total\{reason="quarantined"\} 0/)

    // The refused node says why in its log (the refusing side sends no reason).
    const warnings: string[] = []
    const log = createDebug.log
    createDebug.log = (...args: unknown[]) => { warnings.push(format(...args)) }
    createDebug.enable(namespacesFor('warn'))
    const outsider = await createSwarmNode({ swarmKeyFile, bootstrap: a.multiaddrs })
    nodes.push(outsider)
    try {
      await waitFor(() => a.connectionRefusalCounts.notallowed >= 2, { timeoutMs: 30_000, what: 'the outsider refused twice' })
    } finally {
      createDebug.log = log
      createDebug.disable()
    }
    const why = warnings.filter((w) => w.includes(`peer ${a.peerId} closed the connection`))
    assert.equal(why.length, 1, warnings.join('\n'))
    assert.match(why[0]!, /before identify: this node is probably not on its allowlist \(--allow-peer\), or in quarantine there/)
    const member = await createSwarmNode({ swarmKeyFile, identityFile: listed.file, bootstrap: a.multiaddrs })
    nodes.push(member)
    await waitFor(() => a.peers.includes(member.peerId), { timeoutMs: 30_000, what: 'the listed node joined' })
    // The outsider keeps trying meanwhile; none of its attempts may get through.
    await sleep(500)
    assert.deepEqual(a.peers, [member.peerId])
    assert.deepEqual(outsider.peers, [])
    assert.ok(!opened.has(outsider.peerId), 'a connection from the outsider opened: protocols could have run')
    assert.ok(opened.has(member.peerId))
    const text = await metrics.registry.metrics()
    assert.ok(sample(text, 'mediasoup_swarm_connection_refusals_total{reason="notallowed"}') >= 2, text)
    metrics.close()
  })

  it('a young connection this node opened and that closes after identify is not taken for a refusal: no warning, no backoff', async () => {
    const [a, b] = await startChain(2)
    nodes.push(a!, b!)
    // b's own connection to a, identified.
    const outbound = (): Connection | undefined => b!.libp2p.getConnections(a!.libp2p.peerId).find((c) => c.direction === 'outbound')
    await waitFor(() => outbound() !== undefined, { timeoutMs: 5000, what: 'b\'s connection to a, its bootstrap' })
    const connection = outbound()!
    await waitFor(async () => (await b!.libp2p.peerStore.get(a!.libp2p.peerId)).protocols.length > 0, { timeoutMs: 5000, what: 'b identified a' })
    const warnings: string[] = []
    const log = createDebug.log
    createDebug.log = (...args: unknown[]) => { warnings.push(format(...args)) }
    createDebug.enable(namespacesFor('warn'))
    try {
      assert.ok(Date.now() - connection.timeline.open < 2000, 'the connection is young enough to pass for a refusal')
      await b!.libp2p.hangUp(a!.libp2p.peerId)
      assert.equal(connection.status, 'closed')
      // Dialled again at once: not held back as a refusing peer would be.
      await b!.libp2p.dial(a!.libp2p.peerId)
    } finally {
      createDebug.log = log
      createDebug.disable()
    }
    assert.deepEqual(warnings.filter((w) => w.includes('closed the connection')), [])
  })

  it('setAllowedPeers() lets a refused peer in, and closes the connections of a peer taken off the list', async () => {
    const a = await createSwarmNode({ swarmKeyFile, allowPeers: [] })
    nodes.push(a)
    const b = await createSwarmNode({ swarmKeyFile, bootstrap: a.multiaddrs })
    nodes.push(b)
    await waitFor(() => a.connectionRefusalCounts.notallowed >= 1, { timeoutMs: 30_000, what: 'b refused' })
    a.setAllowedPeers([b.peerId])
    assert.deepEqual(a.allowedPeers, [b.peerId])
    await waitFor(() => a.peers.includes(b.peerId), { timeoutMs: 30_000, what: 'b joined once listed' })
    a.setAllowedPeers([])
    await waitFor(() => a.peers.length === 0 && b.peers.length === 0, { timeoutMs: 15_000, what: 'b cut off once unlisted' })
  })

  it('the binary refuses an open swarm on a reachable address (its default included), and lets it through with a warning under --open-swarm', async () => {
    const settings = (args: string[]): StartSettings => {
      const parsed = resolveStartSettings(['--http', '127.0.0.1:0', ...args], {})
      assert.ok(!parsed.help)
      return parsed.settings
    }
    const open = ['--listen', '/ip4/0.0.0.0/tcp/0']
    assert.throws(() => checkAccess(settings(open)), (err: unknown) => err instanceof UsageError &&
      /^--listen \/ip4\/0\.0\.0\.0\/tcp\/0 is reachable from other hosts and the swarm is open: give --swarm-key .* or --open-swarm/.test(err.message))
    assert.throws(() => checkAccess(settings([])), /--listen \/ip4\/0\.0\.0\.0\/tcp\/4001 is reachable/)
    assert.throws(() => settings([...open, '--allow-peer', 'someone']), /--allow-peer "someone" is not a peer id/)
    const bad = path.join(dir, 'bad-peers')
    fs.writeFileSync(bad, '# ok\n\nnot-an-id\n')
    assert.throws(() => checkAccess(settings([...open, '--allow-peers-file', bad])), /--allow-peers-file .*bad-peers line 3: "not-an-id" is not a peer id/)
    assert.throws(() => checkAccess(settings([...open, '--allow-peers-file', path.join(dir, 'none')])), /--allow-peers-file .*none: ENOENT/)
    const listed = await identity(dir, 'listed')
    const good = path.join(dir, 'peers')
    fs.writeFileSync(good, `# comment\n${listed.peerId}   # a node\n\n${listed.peerId}\n`)
    assert.deepEqual(checkAccess(settings([...open, '--allow-peers-file', good])).allowPeers, [listed.peerId])
    assert.deepEqual(checkAccess(settings([...open, '--allow-peer', listed.peerId])).allowPeers, [listed.peerId])
    assert.equal(checkAccess(settings([...open, '--swarm-key', swarmKeyFile])).allowPeers, undefined)
    assert.equal(checkAccess(settings(['--listen', '/ip4/127.0.0.1/tcp/0'])).allowPeers, undefined)

    // --open-swarm lets it through, with a warning; a closed swarm warns of nothing.
    const warned = warningsOf(() => assert.equal(checkAccess(settings([...open, '--open-swarm'])).allowPeers, undefined))
    assert.equal(warned.length, 1)
    assert.match(warned[0]!, /mediasoup-swarm:cli:warn open swarm on \/ip4\/0\.0\.0\.0\/tcp\/0: anyone who reaches it can join/)
    assert.deepEqual(warningsOf(() => checkAccess(settings([...open, '--swarm-key', swarmKeyFile, '--open-swarm']))), [])

    // The binary itself: exit code 2 and one line.
    const refused = run(['start', '--http', '127.0.0.1:0'])
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /^mediasoup-swarm: --listen \/ip4\/0\.0\.0\.0\/tcp\/4001 is reachable from other hosts/)
  })

  it('the binary reloads --allow-peers-file on SIGHUP: a refused node joins, and the refusals are in /metrics', async () => {
    const file = path.join(dir, 'peers')
    fs.writeFileSync(file, '# allowed peers\n')
    const binary = await startBinary([...LOCAL, '--swarm-key', swarmKeyFile, '--allow-peers-file', file])
    binaries.push(binary)
    const node = await createSwarmNode({ swarmKeyFile, bootstrap: binary.multiaddrs })
    nodes.push(node)
    const refusals = async (): Promise<number> => sample(await getText(`${binary.httpUrl}metrics`), 'mediasoup_swarm_connection_refusals_total{reason="notallowed"}')
    await waitFor(async () => await refusals() >= 1, { timeoutMs: 30_000, what: 'the node refused by the binary' })
    assert.equal(node.peers.length, 0)
    fs.writeFileSync(file, `# allowed peers\n${node.peerId}  # the library node\n`)
    binary.child.kill('SIGHUP')
    await waitFor(() => /SIGHUP: allowlist reloaded from .*peers: 1 peers/.test(binary.stderr()), { timeoutMs: 15_000, what: 'the reload line', progress: binary.stderr })
    await waitFor(() => node.peers.includes(binary.peerId), { timeoutMs: 30_000, what: 'the node joined after the reload' })
    // A bad file keeps the list in force.
    fs.writeFileSync(file, 'garbage\n')
    binary.child.kill('SIGHUP')
    await waitFor(() => /allowlist not reloaded, the previous one stays/.test(binary.stderr()), { timeoutMs: 15_000, what: 'the failed reload line', progress: binary.stderr })
    await sleep(300)
    assert.ok(node.peers.includes(binary.peerId))
    assert.equal((await binary.stop()).code, 0)
  })
})
