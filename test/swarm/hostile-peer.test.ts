import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { createSwarmNode } from '../../src/index.js'
import { createPipeTransport, endpointOf } from '../../src/media/pipe-transport.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { createRtpSink, createRtpSource, sleep, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { RemoteError, SwarmNode } from '../../src/index.js'
import type { PipeEndpoint, PullRequest, Response } from '../../src/protocol/messages.js'
import type { RtpSource } from '../harness/index.js'
import type { types as ms } from 'mediasoup'

const PROTOCOL = pipeProtocolId('/mediasoup-swarm')

/** A UDP socket on `ip` that counts the datagrams it receives: a host a stream must not reach. */
async function countingSocket (ip: string): Promise<{ port: number, received: () => number, close: () => void }> {
  const socket = dgram.createSocket('udp4')
  let received = 0
  socket.on('message', () => received++)
  socket.bind(0, ip)
  await once(socket, 'listening')
  return { port: socket.address().port, received: () => received, close: () => socket.close() }
}

// A swarm member talks the pipe protocol by hand (as a modified node could): it must not be
// able to turn a node into a packet cannon toward another host, nor pile up pipes and
// consumers, nor leave load points held by pulls that failed.
describe('a swarm member misusing pulls', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  let origin: SwarmNode
  let member: SwarmNode
  let source: RtpSource
  let memberRouter: ms.Router
  const closers: Array<() => unknown> = []

  beforeEach(async () => {
    nodes = await startChain(2, { peerLimits: { pipes: 4 } })
    await waitConnected(nodes)
    ;[origin, member] = nodes as [SwarmNode, SwarmNode]
    source = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 100 })
    closers.push(() => source.close())
    memberRouter = await member.createRouter({ mediaCodecs })
  })

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
  })

  /** A real, valid pipe end of the member (its SRTP key), with the address replaced. */
  async function offerTo (ip: string, port: number): Promise<PipeEndpoint> {
    const transport = await createPipeTransport(memberRouter, { ip: '127.0.0.1', announcedIp: '127.0.0.1' })
    closers.push(() => transport.close())
    return { ...endpointOf(transport), ip, port }
  }

  async function pullAnswer (fields: Partial<PullRequest>): Promise<Response> {
    const req: PullRequest = { type: 'pull', producerId: source.producer.id, linkId: 'link', rtts: {}, recruited: false, load: 0, capacity: 2000, ...fields }
    return await request(member.libp2p, origin.peerId, PROTOCOL, req, 5000)
  }

  /** The answer's type, or the error code. */
  async function pull (fields: Partial<PullRequest>): Promise<string> {
    return await pullAnswer(fields).then((answer) => answer.type, (err: RemoteError) => err.code)
  }

  it('a pull whose offer names an address the member does not connect from is refused (forbidden): no packet reaches that address, nothing is left', async () => {
    // 127.0.0.2 is this host too, but not the address the member's connection comes from.
    const elsewhere = await countingSocket('127.0.0.2')
    closers.push(() => elsewhere.close())
    const answers: string[] = []
    for (let i = 0; i < 20; i++) answers.push(await pull({ linkId: `link-${i}`, offer: await offerTo('127.0.0.2', elsewhere.port) }))
    assert.deepEqual(new Set(answers), new Set(['forbidden']))
    await sleep(500)
    assert.equal(elsewhere.received(), 0, 'the stream was sent to a host that did not ask for it')
    assert.deepEqual(origin.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
    assert.equal(origin.capacity.load, 0)
  })

  it('connect-pipe naming an address the member does not connect from is refused (forbidden)', async () => {
    // A pipe made without an offer waits for connect-pipe; pull-ok names it.
    const answer = await pullAnswer({ linkId: 'no-offer' })
    assert.ok(answer.type === 'pull-ok')
    const pipeId = answer.pipe.pipeId
    const elsewhere = await countingSocket('127.0.0.2')
    closers.push(() => elsewhere.close())
    const connect = await request(member.libp2p, origin.peerId, PROTOCOL, { type: 'connect-pipe', pipeId, remote: await offerTo('127.0.0.2', elsewhere.port) }, 3000)
      .then((a) => a.type, (err: RemoteError) => err.code)
    assert.equal(connect, 'forbidden')
    await sleep(500)
    assert.equal(elsewhere.received(), 0)
  })

  it('one member gets at most peerLimits.copiesPerProducer consumers of a producer however many links it asks on (busy past it)', async () => {
    const sink = await countingSocket('127.0.0.1')
    closers.push(() => sink.close())
    const answers: string[] = []
    for (let i = 0; i < 20; i++) answers.push(await pull({ linkId: `link-${i}`, offer: await offerTo('127.0.0.1', sink.port) }))
    assert.deepEqual(answers.filter((a) => a === 'pull-ok').length, 2, `answers: ${answers.join(', ')}`)
    assert.ok(answers.slice(2).every((a) => a === 'busy'), `answers: ${answers.join(', ')}`)
    assert.equal(origin.pipeStats.outgoingConsumers, 2)
    assert.deepEqual(origin.getDistribution(source.producer.id)?.downstream, [member.peerId])
  })

  it('one member gets at most peerLimits.pipes pipes (busy past it), and a legitimate pull of another node still works', async () => {
    const producers = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => {
      const s = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'audio' })
      closers.push(() => s.close())
      return s.producer.id
    }))
    const answers: string[] = []
    for (const [i, producerId] of producers.entries()) answers.push(await pull({ producerId, linkId: `link-${i}` }))
    assert.deepEqual(answers, ['pull-ok', 'pull-ok', 'pull-ok', 'pull-ok', 'busy', 'busy'])
    assert.equal(origin.pipeStats.outgoingPipes, 4)

    const third = await createSwarmNode({ bootstrap: origin.multiaddrs })
    nodes.push(third)
    await waitConnected([third], 5000, 1)
    const router = await third.createRouter({ mediaCodecs })
    await third.pipeToRouter({ producerId: source.producer.id, router })
    const legit = await createRtpSink({ router, producerId: source.producer.id })
    closers.push(() => legit.close())
    await legit.waitForPackets(10, { timeoutMs: 5000 })
  })

  it('pulls whose offer mediasoup refuses release everything they held: load back at baseline after a burst, and later pulls are served', async () => {
    const baseline = origin.capacity.load
    const answers: string[] = []
    for (let i = 0; i < 100; i++) {
      const offer = await offerTo('127.0.0.1', 9)
      // A key of the wrong length for the suite: the origin's connect to the offer fails.
      answers.push(await pull({ linkId: `bad-${i}`, offer: { ...offer, srtpParameters: { ...offer.srtpParameters, keyBase64: 'AAAAAAAAAAAAAAAAAAAAAA==' } } }))
    }
    assert.deepEqual(new Set(answers), new Set(['internal']))
    await waitFor(() => origin.capacity.load === baseline, { timeoutMs: 2000, what: 'the load back at baseline', progress: () => `load ${origin.capacity.load}` })
    assert.deepEqual(origin.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
    assert.deepEqual(origin.getDistribution(source.producer.id)?.downstream, [])

    const { pipeProducer } = await member.pipeToRouter({ producerId: source.producer.id, router: memberRouter })
    const sink = await createRtpSink({ router: memberRouter, producerId: pipeProducer.id })
    closers.push(() => sink.close())
    await sink.waitForPackets(10, { timeoutMs: 5000 })
  })
})
