// A node keeps trying its bootstrap addresses until one answers, and again whenever it has
// no connection: started before its bootstrap node (even if a newcomer joined through it
// meanwhile), or left alone when that node restarts, it joins as soon as it can, and the
// producers it announced while alone are stored on the node it joined.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BootstrapError, createSwarmNode } from '../../src/index.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import { loadOrCreateIdentity } from '../../src/p2p/identity.js'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Peer ids whose record for `producerId` `node` holds in its own DHT store. */
async function storedProviders (node: SwarmNode, producerId: string): Promise<string[]> {
  const found: string[] = []
  const key = await producerKey(producerId)
  try {
    for await (const event of node.libp2p.services.dht.findProviders(key, { signal: AbortSignal.timeout(500) })) {
      // The node's own store answers first, as an event from itself.
      if (event.name === 'PROVIDER' && event.from.equals(node.libp2p.peerId)) found.push(...event.providers.map((p) => p.id.toString()))
    }
  } catch {
    // The deadline ends the network part of the search.
  }
  return found
}

/** Peers in the node's DHT routing table (libp2p internals: no public accessor). */
function routingTableSize (node: SwarmNode): number {
  return (node.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
}

describe('joining through bootstrap addresses', function () {
  this.timeout(30_000)
  const nodes: SwarmNode[] = []
  const closers: Array<() => void> = []
  let dir: string

  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'swarm-bootstrap-')) })
  afterEach(async () => {
    for (const close of closers.splice(0)) close()
    await stopAll(nodes.splice(0))
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('a node started before its bootstrap node joins when it comes up, and a producer it created meanwhile is found', async () => {
    // The bootstrap node's address is fixed before it runs: a known identity and port.
    const identityFile = path.join(dir, 'a.key')
    const aPeerId = peerIdFromPrivateKey(await loadOrCreateIdentity(identityFile)).toString()
    const port = await freePort()
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    const bootstrap = [`${listen[0]!}/p2p/${aPeerId}`]

    const b = await createSwarmNode({ bootstrap, timeouts: { dhtProvideDelay: 100 } })
    nodes.push(b)
    const failures: BootstrapError[] = []
    b.on('error', (err) => { if (err instanceof BootstrapError) failures.push(err) })
    const source = await createRtpSource({ router: await b.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    await waitFor(() => failures.length >= 1, { timeoutMs: 3000, what: 'a BootstrapError while the bootstrap node is down' })
    assert.deepEqual(failures[0]!.addresses, bootstrap)
    assert.ok(failures[0]!.retryInMs >= 800, `retry in ${failures[0]!.retryInMs} ms`)
    assert.match(failures[0]!.message, /no bootstrap node answered .*ECONNREFUSED.*retrying in \d+ s/)
    assert.equal(b.peers.length, 0)

    const a = await createSwarmNode({ identityFile, listen })
    nodes.push(a)
    const started = Date.now()
    await waitFor(() => b.peers.includes(aPeerId), { timeoutMs: 8000, what: 'B joining A' })
    const joinedAfterMs = Date.now() - started
    // The retries back off 1 s, 2 s, 4 s…: the join comes at the next one.
    assert.ok(joinedAfterMs <= 4500, `joined ${joinedAfterMs} ms after A started (${failures.length} failed rounds)`)

    // B's record, announced when B was alone, reaches A once A is there.
    await waitFor(async () => (await storedProviders(a, source.producer.id)).includes(b.peerId), { timeoutMs: 3000, what: "B's record in A's store" })

    // And the producer is pulled from B to A, with media.
    const routerA = await a.createRouter({ mediaCodecs })
    const { pipeProducer } = await a.pipeToRouter({ producerId: source.producer.id, router: routerA })
    const sink = await createRtpSink({ router: routerA, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(50, { timeoutMs: 3000 })
  })

  it('a node left alone when its bootstrap node restarts joins it again, and sends it the records it announced meanwhile', async () => {
    const identityFile = path.join(dir, 'a.key')
    const port = await freePort()
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    let a = await createSwarmNode({ identityFile, listen })
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, timeouts: { announce: 500, dhtProvideDelay: 100 } })
    nodes.push(b)
    await waitFor(() => b.peers.includes(a.peerId), { timeoutMs: 3000, what: 'B joining A' })
    // Until A is in B's DHT routing table (libp2p pings it first), stopping A would leave that
    // check pending, and the DHT would not take the restarted A until it fails (≥ 5 s).
    await waitFor(() => routingTableSize(b) > 0, { timeoutMs: 3000, what: "A in B's DHT routing table" })
    await a.stop()
    await waitFor(() => b.peers.length === 0, { timeoutMs: 3000, what: 'B noticing A has gone' })
    // Announced while B is alone: the announcement ends (deadline 500 ms) with no node storing it.
    const source = await createRtpSource({ router: await b.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    await sleep(1000)

    a = await createSwarmNode({ identityFile, listen })
    nodes.push(a)
    await waitFor(() => b.peers.includes(a.peerId), { timeoutMs: 8000, what: 'B joining the restarted A' })
    // Well before the periodic re-announcement (every providerValidity / 4 = 30 s).
    await waitFor(async () => (await storedProviders(a, source.producer.id)).includes(b.peerId), {
      // The first retries may come before A is in B's DHT routing table (it is checked with a ping first).
      timeoutMs: 6000,
      what: "B's record in the restarted A's store",
      progress: () => `B: ${b.libp2p.getConnections().map((c) => `${c.direction}/${c.status}`).join(', ')}, DHT routing table ${routingTableSize(b)}`
    })
  })

  it('a node whose bootstrap node is down goes on dialling it after a newcomer joined through it: the two are no island', async () => {
    const identityFile = path.join(dir, 'a.key')
    const aPeerId = peerIdFromPrivateKey(await loadOrCreateIdentity(identityFile)).toString()
    const port = await freePort()
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    const b = await createSwarmNode({ bootstrap: [`${listen[0]!}/p2p/${aPeerId}`] })
    nodes.push(b)
    const failures: BootstrapError[] = []
    b.on('error', (err) => { if (err instanceof BootstrapError) failures.push(err) })
    await waitFor(() => failures.length >= 1, { timeoutMs: 3000, what: 'a BootstrapError while A is down' })
    // C joins through B: B has a connection now, and only C behind it.
    const c = await createSwarmNode({ bootstrap: b.multiaddrs })
    nodes.push(c)
    await waitFor(() => b.peers.includes(c.peerId), { timeoutMs: 3000, what: 'C joining B' })
    const source = await createRtpSource({ router: await c.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    closers.push(() => source.close())
    const failed = failures.length
    await waitFor(() => failures.length > failed, { timeoutMs: 6000, what: 'another failed round of B while C is connected to it' })
    assert.ok(b.peers.includes(c.peerId), 'B still connected to C when that round failed')

    const a = await createSwarmNode({ identityFile, listen })
    nodes.push(a)
    // The retries back off up to 8 s.
    await waitFor(() => b.peers.includes(aPeerId), { timeoutMs: 12_000, what: 'B joining A' })
    // One swarm: A finds C's producer through B and pulls it, with media.
    const routerA = await a.createRouter({ mediaCodecs })
    const { pipeProducer } = await a.pipeToRouter({ producerId: source.producer.id, router: routerA })
    const sink = await createRtpSink({ router: routerA, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(50, { timeoutMs: 3000 })
  })

  it('bootstrap addresses that are not multiaddrs are refused with TypeError; its own address is skipped', async () => {
    await assert.rejects(createSwarmNode({ bootstrap: ['127.0.0.1:4001'] }), (err: Error) => err instanceof TypeError && /bootstrap: not a multiaddr: 127\.0\.0\.1:4001/.test(err.message))
    const identityFile = path.join(dir, 'a.key')
    const port = await freePort()
    const self = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(await loadOrCreateIdentity(identityFile)).toString()}`
    // A shared list of all nodes, this one included: a first node with only itself stays quiet.
    const a = await createSwarmNode({ identityFile, listen: [`/ip4/127.0.0.1/tcp/${port}`], bootstrap: [self] })
    nodes.push(a)
    const errors: Error[] = []
    a.on('error', (err) => errors.push(err))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    assert.deepEqual(errors.map((e) => e.name), [])
  })
})
