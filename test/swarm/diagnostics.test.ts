// Failures that name the address, the cause and the fix: a wrong or missing swarm key (on
// both sides of the handshake), an unreachable or silent bootstrap address, a lookup on a
// node that has no peers, a not-found error that names the producer once.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { format } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import createDebug from 'debug'
import { BootstrapError, createSwarmKey, createSwarmNode, ProducerNotFoundError } from '../../src/index.js'
import { namespacesFor } from '../../src/logger.js'
import { createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'

/** The library's warnings (and errors) from now until restore(). */
function captureWarnings (): { lines: string[], restore: () => void } {
  const lines: string[] = []
  const log = createDebug.log
  createDebug.log = (...args: unknown[]) => { lines.push(format(...args)) }
  createDebug.enable(namespacesFor('warn'))
  return {
    lines,
    restore: () => {
      createDebug.log = log
      createDebug.disable()
    }
  }
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const SOME_PEER = '12D3KooWGRUVh2Bnd4U4ffEXmSyBFfGQyxZBv8TikjjUZD1yD5Q7'

/** Occurrences of `part` in `text`. */
function count (text: string, part: string): number {
  return text.split(part).length - 1
}

describe('diagnostics: errors and log lines that name the address, the cause and the fix', function () {
  this.timeout(60_000)
  const nodes: SwarmNode[] = []
  const closers: Array<() => void> = []
  let dir: string
  let capture: ReturnType<typeof captureWarnings> | undefined

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-diag-')) })
  afterEach(async () => {
    capture?.restore()
    capture = undefined
    for (const close of closers.splice(0)) close()
    await stopAll(nodes.splice(0))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  /** A node bootstrapping from `address` and the BootstrapErrors it emits. */
  const joiner = async (bootstrap: string[], options: Parameters<typeof createSwarmNode>[0] = {}): Promise<{ node: SwarmNode, errors: BootstrapError[] }> => {
    const node = await createSwarmNode({ ...options, bootstrap })
    nodes.push(node)
    const errors: BootstrapError[] = []
    node.on('error', (err) => { if (err instanceof BootstrapError) errors.push(err) })
    return { node, errors }
  }

  it('a node with another swarm key, or none: the dialer names the address and the swarm key; the dialed node warns once a minute and counts each', async () => {
    const keyFile = path.join(dir, 'swarm.key')
    const otherKey = path.join(dir, 'other.key')
    fs.writeFileSync(keyFile, createSwarmKey())
    fs.writeFileSync(otherKey, createSwarmKey())
    capture = captureWarnings()
    const member = await createSwarmNode({ swarmKeyFile: keyFile })
    nodes.push(member)
    const address = member.multiaddrs[0]!
    for (const options of [{ swarmKeyFile: otherKey }, {}]) {
      const { errors } = await joiner([address], options)
      await waitFor(() => errors.length > 0, { timeoutMs: 20_000, what: 'a BootstrapError' })
      const [cause] = errors[0]!.causes
      // A handshake that fails on garbage, or (both sides waiting for the other's) stalls until the dial deadline.
      assert.match(cause!.message, new RegExp(`^${address}: (the handshake failed|connected, but the handshake did not complete within \\d+ ms): most likely a different swarm key on each side, or a key on one side only \\(check swarmKeyFile, --swarm-key\\)`))
      assert.match(errors[0]!.message, /^could not join the swarm: no bootstrap node answered \(1 address\): /)
      assert.doesNotMatch(errors[0]!.message, /Message length|Missing newline|aborted due to timeout/)
    }
    await waitFor(() => member.connectionRefusalCounts.handshake >= 3, { timeoutMs: 20_000, what: 'three refused handshakes counted', progress: () => JSON.stringify(member.connectionRefusalCounts) })
    const said = capture.lines.filter((l) => /mediasoup-swarm:p2p:gate:warn a connection from \/ip4\/127\.0\.0\.1\/tcp\/\d+ (failed its handshake \(.*\): most likely a node with a different swarm key, or none|did not complete its handshake in time)/.test(l))
    assert.equal(said.length, 1, capture.lines.join('\n'))
    assert.deepEqual(member.peers, [])
  })

  it('an unreachable bootstrap address: refused, or connected but silent, each named with its address', async () => {
    const port = await freePort()
    const refused = `/ip4/127.0.0.1/tcp/${port}/p2p/${SOME_PEER}`
    // Accepts and never says a word, as a host whose node hangs.
    const sockets: net.Socket[] = []
    const silent = net.createServer((s) => sockets.push(s))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    closers.push(() => { for (const s of sockets) s.destroy(); silent.close() })
    // Another peer id: libp2p merges dials of one peer into one.
    const otherPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const silentAddress = `/ip4/127.0.0.1/tcp/${(silent.address() as net.AddressInfo).port}/p2p/${otherPeer}`
    const { errors } = await joiner([refused, silentAddress], { timeouts: { dial: 1000 } })
    await waitFor(() => errors.length > 0, { timeoutMs: 10_000, what: 'a BootstrapError' })
    const messages = errors[0]!.causes.map((c) => c.message).sort((a, b) => a.indexOf(`/${port}/`) >= 0 ? -1 : b.indexOf(`/${port}/`) >= 0 ? 1 : 0)
    assert.match(messages[0]!, new RegExp(`^${refused}: connection refused \\(ECONNREFUSED\\): nothing listens on that port`))
    assert.match(messages[1]!, new RegExp(`^${silentAddress}: connected, but the handshake did not complete within 1000 ms`))
    assert.match(errors[0]!.message, /\(2 addresses\)/)
  })

  it('a node with no peers fails a lookup at once, saying so (no bootstrap address; bootstrap addresses that do not answer)', async () => {
    const alone = await createSwarmNode()
    nodes.push(alone)
    const router = await alone.createRouter({ mediaCodecs })
    let started = performance.now()
    await assert.rejects(alone.pipeToRouter({ producerId: 'nowhere-1', router }), (err: unknown) => {
      assert.ok(err instanceof ProducerNotFoundError)
      assert.match(err.message, /^producer nowhere-1 was not found in the swarm: this node has no peers and no bootstrap address/)
      return true
    })
    assert.ok(performance.now() - started < 500, `took ${Math.round(performance.now() - started)} ms`)

    const port = await freePort()
    const { node: cut } = await joiner([`/ip4/127.0.0.1/tcp/${port}/p2p/${SOME_PEER}`])
    const cutRouter = await cut.createRouter({ mediaCodecs })
    started = performance.now()
    await assert.rejects(cut.pipeToRouter({ producerId: 'nowhere-2', router: cutRouter }), (err: unknown) => {
      assert.ok(err instanceof ProducerNotFoundError)
      assert.match(err.message, /this node has no peers: none of its 1 bootstrap address answered/)
      return true
    })
    // The default lookup timeout is 5 s: this did not wait for it.
    assert.ok(performance.now() - started < 1500, `took ${Math.round(performance.now() - started)} ms`)
  })

  it('a pipe that receives no byte for 5 s is reported once, naming the media addresses', async () => {
    const a = await createSwarmNode()
    nodes.push(a)
    // B announces 127.0.0.1 but listens on 127.0.0.2, as a node behind a NAT that does not
    // forward: A's media goes to an address where nothing listens.
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, pipeListenIp: '127.0.0.2', pipeAnnouncedIp: '127.0.0.1' })
    nodes.push(b)
    await waitConnected([a, b], 20_000)
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 50 })
    closers.push(() => source.close())
    capture = captureWarnings()
    const { pipeProducer } = await b.pipeToRouter({ producerId: source.producer.id, router: await b.createRouter({ mediaCodecs }) })
    assert.equal(pipeProducer.paused, false)
    const pattern = new RegExp(`mediasoup-swarm:node:pipes:warn the pipe from ${a.peerId} has received no byte in [5-9] s: it sends to 127\\.0\\.0\\.1 \\(this node's announced media IP; listening on 127\\.0\\.0\\.2:\\d+\\), from its own media IP 127\\.0\\.0\\.1, a loopback address\\. If either address is not one the other host reaches, set pipeListenIp / --media-ip`)
    const lines = capture.lines
    await waitFor(() => lines.some((l) => pattern.test(l)), { timeoutMs: 15_000, what: 'the no-byte warning', progress: () => lines.join('\n') })
    // A sent all along; nothing arrived.
    assert.ok(source.sent > 100, `${source.sent} packets sent`)
    assert.equal((await pipeProducer.getStats()).reduce((n, st) => n + st.byteCount, 0), 0)
    // Once per pipe.
    const sentAtWarning = source.sent
    await waitFor(() => source.sent >= sentAtWarning + 100, { timeoutMs: 5000, what: 'more packets sent' })
    assert.equal(lines.filter((l) => pattern.test(l)).length, 1)
  })

  it('a pull refused for this node\'s media address says so, naming the address and the setting', async () => {
    const a = await createSwarmNode()
    nodes.push(a)
    // B connects from 127.0.0.1 but announces another address for its pipes: A will not send there.
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, pipeAnnouncedIp: '127.0.0.2', timeouts: { lookup: 3000 } })
    nodes.push(b)
    await waitConnected([a, b], 20_000)
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 50 })
    closers.push(() => source.close())
    const err = await b.pipeToRouter({ producerId: source.producer.id, router: await b.createRouter({ mediaCodecs }) }).then(() => undefined, (e: Error) => e)
    assert.ok(err instanceof ProducerNotFoundError, String(err))
    // Among the last failures named (a busy machine may add a timeout of A's answer).
    assert.match(err.message, new RegExp(`${a.peerId}: forbidden \\(media address 127\\.0\\.0\\.2 is not one of yours \\(you connect from 127\\.0\\.0\\.1\\): this node's media IP must be an address it connects from, see pipeListenIp / pipeAnnouncedIp, --media-ip / --media-announced-ip\\)`))
  })

  it('a node with peers still looks for the lookup timeout, and the not-found message names the producer once', async () => {
    const a = await createSwarmNode({ timeouts: { lookup: 1500 } })
    nodes.push(a)
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, timeouts: { lookup: 1500 } })
    nodes.push(b)
    await waitConnected([a, b], 20_000)
    const router = await b.createRouter({ mediaCodecs })
    const started = performance.now()
    const err = await b.pipeToRouter({ producerId: 'unknown-producer', router }).then(() => undefined, (e: Error) => e)
    assert.ok(err instanceof ProducerNotFoundError, String(err))
    assert.ok(performance.now() - started >= 1400)
    assert.equal(count(err.message, 'unknown-producer'), 1, err.message)
    assert.match(err.message, /no node announced it \(no provider record found within 1500 ms\)/)
  })
})
