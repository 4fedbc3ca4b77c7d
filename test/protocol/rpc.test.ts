// Request/response sessions between two real libp2p hosts on 127.0.0.1: requests share one
// stream, run concurrently and are matched to answers by id; a request out of time fails
// alone; a peer that goes away, or does not speak the protocol, fails what is under way at once.
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { RemoteError, RequestTimeoutError } from '../../src/index.js'
import { createHost } from '../../src/p2p/host.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request, serve } from '../../src/protocol/rpc.js'
import type { Host } from '../../src/p2p/host.js'
import type { Request, Response } from '../../src/protocol/messages.js'

const PROTOCOL = pipeProtocolId('/rpc-test')

async function startHost (): Promise<Host> {
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], protocolPrefix: '/rpc-test',
    addressPolicy: 'all', providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
  })
  await host.start()
  return host
}

/** Answers `status` for producer "wait-<ms>" after that many ms, never for "hang". */
async function answerAfterDelay (req: Request): Promise<Response> {
  if (req.type !== 'status' || req.producerId === undefined) return { type: 'error', code: 'bad-message', message: 'status only' }
  if (req.producerId === 'hang') return await new Promise<never>(() => {})
  await new Promise((resolve) => setTimeout(resolve, Number(req.producerId!.slice('wait-'.length))))
  return { type: 'status-ok', has: true, pulling: false, downstream: Number(req.producerId.slice('wait-'.length)), load: 0, capacity: 1 }
}

describe('node-to-node request sessions (src/protocol/rpc.ts)', function () {
  this.timeout(20_000)
  let server: Host, client: Host

  beforeEach(async () => {
    server = await startHost()
    client = await startHost()
    await serve(server, PROTOCOL, answerAfterDelay, () => {})
    await client.dial(multiaddr(server.getMultiaddrs()[0]!.toString()))
  })
  afterEach(async () => { await Promise.all([client.stop(), server.stop()]) })

  const streamsOf = (host: Host): number => host.getConnections().flatMap((c) => c.streams).filter((s) => s.protocol === PROTOCOL).length

  it('concurrent requests share one stream and each gets its own answer, whatever order they come in', async () => {
    const peer = server.peerId.toString()
    const answers = await Promise.all([300, 10, 150].map(async (ms) => await request(client, peer, PROTOCOL, { type: 'status', producerId: `wait-${ms}` }, 2000)))
    assert.deepEqual(answers.map((a) => a.type === 'status-ok' ? a.downstream : -1), [300, 10, 150])
    await request(client, peer, PROTOCOL, { type: 'status', producerId: 'wait-0' }, 2000)
    assert.equal(streamsOf(client), 1)
  })

  it('a request out of time fails with RequestTimeoutError; the session goes on serving others', async () => {
    const peer = server.peerId.toString()
    const hanging = request(client, peer, PROTOCOL, { type: 'status', producerId: 'hang' }, 300)
    const quick = request(client, peer, PROTOCOL, { type: 'status', producerId: 'wait-5' }, 2000)
    await assert.rejects(hanging, RequestTimeoutError)
    assert.equal((await quick).type, 'status-ok')
    assert.equal((await request(client, peer, PROTOCOL, { type: 'status', producerId: 'wait-1' }, 2000)).type, 'status-ok')
  })

  it('requests waiting for a session to open keep their own deadlines: a short one does not end the others', async () => {
    // No session yet: both wait for the same opening (dial + negotiation), which outlives 1 ms.
    const short = request(client, server.peerId.toString(), PROTOCOL, { type: 'status', producerId: 'wait-0' }, 1)
    const long = request(client, server.peerId.toString(), PROTOCOL, { type: 'status', producerId: 'wait-0' }, 3000)
    await assert.rejects(short, RequestTimeoutError)
    assert.equal((await long).type, 'status-ok')
    assert.equal(streamsOf(client), 1)
  })

  it('error answers become RemoteError with their code', async () => {
    await assert.rejects(request(client, server.peerId.toString(), PROTOCOL, { type: 'recruit', producerId: 'x' }, 2000),
      (err: Error) => err instanceof RemoteError && err.code === 'bad-message')
  })

  it('a peer that goes away fails the requests under way at once, not at their deadline', async () => {
    const pending = request(client, server.peerId.toString(), PROTOCOL, { type: 'status', producerId: 'hang' }, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = Date.now()
    const failed = assert.rejects(pending, (err: Error) => err instanceof RemoteError && err.code === 'unreachable')
    await server.stop()
    await failed
    assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`)
  })

  it('a peer that does not speak the protocol fails the request at once with RemoteError unreachable', async () => {
    const started = Date.now()
    await assert.rejects(request(client, server.peerId.toString(), pipeProtocolId('/not-served'), { type: 'status', producerId: 'wait-0' }, 5000),
      (err: Error) => err instanceof RemoteError && err.code === 'unreachable' && /protocol/i.test(err.message))
    assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`)
    // The session that failed is gone: the served protocol still answers.
    assert.equal((await request(client, server.peerId.toString(), PROTOCOL, { type: 'status', producerId: 'wait-0' }, 2000)).type, 'status-ok')
  })
})
