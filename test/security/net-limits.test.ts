// libp2p connection limits (docs/security.md, "Connection limits"), with real nodes on
// loopback; 127.0.0.2… stand for other hosts (only 127.0.0.1 is exempt from the per-IP
// limits): idle TCP connections are closed at the handshake deadline and bounded per IP (at
// once and per second), a peer gets at most `perPeer` connections, and a libp2p node that is
// no swarm member (identify and ping only) is closed and then kept out, while a real node joins.
import assert from 'node:assert/strict'
import net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createSwarmNode } from '../../src/index.js'
import { createHost } from '../../src/p2p/host.js'
import { IDENTIFY_GRACE_MS } from '../../src/p2p/peer-gate.js'
import { sleep, waitFor } from '../harness/index.js'
import { stopAll } from '../harness/swarm.js'
import type { Libp2p } from '@libp2p/interface'
import type { SwarmNode } from '../../src/index.js'

/** Address and port of a node's TCP listener. */
function tcpTarget (node: SwarmNode): { host: string, port: number } {
  const parts = multiaddr(node.multiaddrs[0]!).getComponents()
  return { host: parts.find((c) => c.name === 'ip4')!.value!, port: Number(parts.find((c) => c.name === 'tcp')!.value) }
}

/** An idle TCP connection from `localAddress`: resolves with it once connected; `closedAt` is set when the node closes it. */
async function idleConnection (target: { host: string, port: number }, localAddress: string): Promise<{ socket: net.Socket, openedAt: number, closedAt?: number }> {
  const socket = net.connect({ ...target, localAddress })
  const entry: { socket: net.Socket, openedAt: number, closedAt?: number } = { socket, openedAt: 0 }
  socket.on('error', () => {})
  socket.on('close', () => { entry.closedAt = performance.now() })
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('error', reject) })
  entry.openedAt = performance.now()
  return entry
}

/** Peer ids of the connections that opened on `node`, in order. */
function openedFrom (node: SwarmNode): string[] {
  const opened: string[] = []
  node.libp2p.addEventListener('connection:open', (event) => opened.push(event.detail.remotePeer.toString()))
  return opened
}

describe('libp2p connection limits', function () {
  this.timeout(90_000)
  const nodes: SwarmNode[] = []
  const others: Libp2p[] = []
  const sockets: net.Socket[] = []

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    await Promise.all(others.splice(0).map(async (h) => await h.stop()))
    await stopAll(nodes.splice(0))
  })

  it('idle TCP connections are closed at the handshake deadline, and one IP gets at most pendingInboundPerIp of them; a node joins meanwhile', async () => {
    const target = await createSwarmNode({ connectionLimits: { handshakeTimeoutMs: 1000, pendingInboundPerIp: 3, inboundPerIpPerSecond: 100 } })
    nodes.push(target)
    const address = tcpTarget(target)
    const idle = await Promise.all(Array.from({ length: 6 }, async () => await idleConnection(address, '127.0.0.2')))
    sockets.push(...idle.map((c) => c.socket))
    await waitFor(() => idle.every((c) => c.closedAt !== undefined), { timeoutMs: 15_000, what: 'every idle connection closed' })
    const heldMs = idle.map((c) => c.closedAt! - c.openedAt).sort((a, b) => a - b)
    // Three over the per-IP bound are closed at once, the three held until the deadline.
    assert.ok(heldMs.slice(0, 3).every((ms) => ms < 900), `over the bound: ${heldMs.join(', ')} ms`)
    // Closed at the 1 s deadline, not libp2p's 10 s.
    assert.ok(heldMs.slice(3).every((ms) => ms >= 900 && ms < 5000), `held: ${heldMs.join(', ')} ms`)
    await waitFor(() => target.connectionRefusalCounts.handshake === 3, { timeoutMs: 5000, what: 'three handshake timeouts counted' })
    assert.equal(target.connectionRefusalCounts.pending, 3)

    // A newcomer is not held up by one address's idle connections.
    const again = await Promise.all(Array.from({ length: 3 }, async () => await idleConnection(address, '127.0.0.2')))
    sockets.push(...again.map((c) => c.socket))
    const newcomer = await createSwarmNode({ bootstrap: target.multiaddrs })
    nodes.push(newcomer)
    await waitFor(() => target.peers.includes(newcomer.peerId), { timeoutMs: 20_000, what: 'the newcomer joined' })
  })

  it('one IP gets at most inboundPerIpPerSecond new connections a second; 127.0.0.1 (the nodes of this host) any number', async () => {
    const target = await createSwarmNode({ connectionLimits: { handshakeTimeoutMs: 1000, pendingInboundPerIp: 100, inboundPerIpPerSecond: 3 } })
    nodes.push(target)
    const address = tcpTarget(target)
    const held = async (from: string): Promise<number[]> => {
      const idle = await Promise.all(Array.from({ length: 6 }, async () => await idleConnection(address, from)))
      sockets.push(...idle.map((c) => c.socket))
      await waitFor(() => idle.every((c) => c.closedAt !== undefined), { timeoutMs: 15_000, what: `every idle connection from ${from} closed` })
      return idle.map((c) => c.closedAt! - c.openedAt).sort((a, b) => a - b)
    }
    const other = await held('127.0.0.3')
    // Three over the rate are closed at once, the three accepted held until the 1 s deadline.
    assert.ok(other.slice(0, 3).every((ms) => ms < 900), `over the rate: ${other.join(', ')} ms`)
    assert.ok(other.slice(3).every((ms) => ms >= 900), `accepted: ${other.join(', ')} ms`)
    await waitFor(() => target.connectionRefusalCounts.handshake === 3, { timeoutMs: 5000, what: 'three handshake timeouts counted' })
    assert.equal(target.connectionRefusalCounts.rate, 3)
    assert.equal(target.connectionRefusalCounts.pending, 0)

    const local = await held('127.0.0.1')
    assert.ok(local.every((ms) => ms >= 900), `from 127.0.0.1: ${local.join(', ')} ms`)
    await waitFor(() => target.connectionRefusalCounts.handshake === 9, { timeoutMs: 5000, what: 'six more handshake timeouts counted' })
    assert.equal(target.connectionRefusalCounts.rate, 3)
  })

  it('a peer gets at most perPeer connections at once', async () => {
    const target = await createSwarmNode({ connectionLimits: { perPeer: 2 } })
    nodes.push(target)
    // A member of the swarm (the same DHT protocol), so that only the per-peer bound acts.
    const member = await createHost({
      privateKey: await generateKeyPair('Ed25519'), listen: [], announce: [], protocolPrefix: '/mediasoup-swarm',
      addressPolicy: 'all', providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
    })
    others.push(member)
    await member.start()
    // One after the other: libp2p merges concurrent dials of one peer into one.
    const dials: string[] = []
    for (let i = 0; i < 4; i++) {
      dials.push(await member.dial(multiaddr(target.multiaddrs[0]!), { force: true }).then(() => 'ok', (err: Error) => err.name))
      await sleep(100)
    }
    await waitFor(() => target.connectionRefusalCounts.perpeer === 2, { timeoutMs: 10_000, what: 'two dials refused', progress: () => dials.join(', ') })
    const opened = target.libp2p.getConnections().filter((c) => c.remotePeer.equals(member.peerId)).length
    assert.equal(opened, 2, `dials: ${dials.join(', ')}`)
  })

  it('a libp2p node that is no swarm member (identify and ping only) is closed after identify and kept out; a real node joins', async () => {
    const target = await createSwarmNode()
    nodes.push(target)
    const stranger = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: { identify: identify(), ping: ping() }
    })
    others.push(stranger)
    const opened = openedFrom(target)
    await stranger.dial(multiaddr(target.multiaddrs[0]!))
    await waitFor(() => target.connectionRefusalCounts.stranger === 1 && stranger.getConnections().length === 0, { timeoutMs: 15_000, what: 'the stranger evicted' })
    assert.equal(opened.length, 1)
    // Its next attempts end at the gater, before any protocol: no connection opens.
    await stranger.dial(multiaddr(target.multiaddrs[0]!)).catch(() => {})
    await waitFor(() => target.connectionRefusalCounts.quarantined >= 1, { timeoutMs: 10_000, what: 'the stranger refused in quarantine' })
    assert.equal(opened.length, 1)
    assert.equal(target.peers.length, 0)
    const member = await createSwarmNode({ bootstrap: target.multiaddrs })
    nodes.push(member)
    await waitFor(() => target.peers.includes(member.peerId), { timeoutMs: 20_000, what: 'the member joined' })
    await sleep(300)
    assert.ok(target.peers.includes(member.peerId), 'a member was evicted as a stranger')
    assert.equal(target.connectionRefusalCounts.stranger, 1)
  })

  it('a libp2p node that never identifies is closed IDENTIFY_GRACE_MS after it connected, and kept out', async function () {
    this.timeout(IDENTIFY_GRACE_MS + 20_000)
    const target = await createSwarmNode()
    nodes.push(target)
    // No identify service: the target's identify request to it fails, so it never identifies.
    const silent = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: { ping: ping() }
    })
    others.push(silent)
    const started = performance.now()
    await silent.dial(multiaddr(target.multiaddrs[0]!))
    await waitFor(() => silent.getConnections().length === 0, { timeoutMs: IDENTIFY_GRACE_MS + 10_000, what: 'the silent peer closed' })
    const ms = performance.now() - started
    assert.ok(ms >= IDENTIFY_GRACE_MS - 100 && ms < IDENTIFY_GRACE_MS + 5000, `closed after ${Math.round(ms)} ms`)
    assert.equal(target.connectionRefusalCounts.stranger, 1)
    await silent.dial(multiaddr(target.multiaddrs[0]!)).catch(() => {})
    await waitFor(() => target.connectionRefusalCounts.quarantined >= 1, { timeoutMs: 10_000, what: 'the silent peer refused in quarantine' })
  })
})
