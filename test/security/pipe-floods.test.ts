// A live node (real libp2p, real mediasoup) fed by a swarm member gone bad on the pipe
// protocol: random and mutated frames, oversize and endless length prefixes, frames that
// never end, thousands of well-formed requests for random producer ids over many streams.
// It answers with errors or resets the stream, keeps serving a legitimate pull (real RTP
// at a sink) during the flood, sends no pull back per recruit, and holds nothing for the
// attacker once it is gone. Timings are bench/pipe-floods.ts's; here only behaviour.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { WIRE_ERROR_CODES } from '../../src/errors.js'
import { FRAME_READ_TIMEOUT_MS } from '../../src/protocol/framing.js'
import { servingState } from '../../src/protocol/rpc.js'
import { RECRUIT_BURST } from '../../src/node/serving/relay-recruits.js'
import { createRtpSink, createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { varint } from '../../src/protocol/framing.js'
import { createAttacker, flood, frame, randomRequest } from './pipe-attacker.js'
import { createSwarmNode } from '../../src/index.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSink, RtpSource } from '../harness/index.js'
import type { Attacker, FloodKind } from './pipe-attacker.js'

const ANSWER_TYPES = new Set<string>([...WIRE_ERROR_CODES, 'ok', 'pull-ok', 'redirect', 'status-ok', 'providers', 'closer'])
const ALL_KINDS: FloodKind[] = ['pull', 'locate', 'recruit', 'announce', 'status', 'move', 'release', 'close-pipe', 'connect-pipe', 'producer-event']
const utf8 = new TextEncoder()

/** Frame bodies a broken or hostile peer might send: random bytes, random JSON, valid requests with a field changed. */
function hostileBodies (n: number): Uint8Array[] {
  const kinds = fc.constantFrom(...ALL_KINDS)
  const mutated = fc.tuple(kinds, fc.constantFrom('type', 'producerId', 'pipeId', 'linkId', 'waitMs', 'offer', 'remote', 'producerIds', 'load', 'id'), fc.jsonValue({ maxDepth: 3 }))
    .map(([kind, field, value]) => utf8.encode(JSON.stringify({ id: 1, ...randomRequest(kind, '127.0.0.1'), [field]: value })))
  return fc.sample(fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => utf8.encode(JSON.stringify(v))),
    fc.record({ id: fc.nat(), type: fc.constantFrom(...ALL_KINDS, 'hello') }).map((v) => utf8.encode(JSON.stringify(v))),
    mutated
  ), n)
}

describe('a live node fed hostile pipe-protocol streams', function () {
  this.timeout(90_000)
  let nodes: SwarmNode[] = []
  let origin: SwarmNode
  let legit: SwarmNode
  let source: RtpSource
  let attacker: Attacker
  const sinks: RtpSink[] = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }

  before(() => { process.on('unhandledRejection', onUnhandled) })
  after(() => { process.off('unhandledRejection', onUnhandled) })

  beforeEach(async () => {
    unhandled.length = 0
    nodes = await startChain(2)
    await waitConnected(nodes)
    ;[origin, legit] = nodes as [SwarmNode, SwarmNode]
    source = await createRtpSource({ router: await origin.createRouter({ mediaCodecs }), kind: 'video', packetsPerSecond: 100 })
    attacker = await createAttacker(origin)
  })

  afterEach(async () => {
    for (const sink of sinks.splice(0)) sink.close()
    source?.close()
    await attacker?.stop()
    await stopAll(nodes)
    assert.deepEqual(unhandled, [], 'unhandled rejections')
  })

  /** The legitimate node pulls the origin's producer: real RTP counted at its sink. */
  async function legitimatePull (): Promise<void> {
    const router = await legit.createRouter({ mediaCodecs })
    await legit.pipeToRouter({ producerId: source.producer.id, router })
    const sink = await createRtpSink({ router, producerId: source.producer.id })
    sinks.push(sink)
    await sink.waitForPackets(20, { timeoutMs: 10_000 })
  }

  it('random and mutated frames each get an error answer (or a valid request\'s answer) and the stream goes on', async () => {
    const session = await attacker.open()
    const bodies = hostileBodies(1000)
    for (const body of bodies) await session.send(frame(body))
    await waitFor(() => session.answered === bodies.length, { timeoutMs: 20_000, what: 'an answer to every frame', progress: () => `${session.answered} of ${bodies.length}` })
    assert.equal(session.stream.status, 'open')
    for (const key of session.answers.keys()) assert.ok(ANSWER_TYPES.has(key), `answer ${key}`)
    assert.ok((session.answers.get('bad-message') ?? 0) > 0 && (session.answers.get('unknown-type') ?? 0) > 0, JSON.stringify([...session.answers]))
    await legitimatePull()
  })

  it('an oversize length prefix, and a length prefix longer than 3 bytes, reset the stream at once (too-large)', async () => {
    const before = origin.protocolErrorCounts['too-large'] ?? 0
    const oversize = await attacker.open()
    await oversize.send(Uint8Array.from([...varint(1 << 20), 1, 2, 3]))
    const endless = await attacker.open()
    await endless.send(new Uint8Array(1000).fill(0x80))
    await Promise.race([Promise.all([oversize.ended, endless.ended]), new Promise((resolve, reject) => setTimeout(() => reject(new Error('not reset')), 3000))])
    assert.equal((origin.protocolErrorCounts['too-large'] ?? 0) - before, 2)
    await legitimatePull()
  })

  it(`a frame that never ends, and a length prefix that stops half way, are reset after the read deadline (${FRAME_READ_TIMEOUT_MS} ms); an idle session is not`, async () => {
    const idle = await attacker.open()
    const partial = await attacker.open()
    await partial.send(Uint8Array.from([...varint(100), ...utf8.encode('{"id":1,')]))
    const halfPrefix = await attacker.open()
    await halfPrefix.send(Uint8Array.from([0x80]))
    await Promise.race([Promise.all([partial.ended, halfPrefix.ended]), new Promise<never>((resolve, reject) => setTimeout(() => reject(new Error('not reset')), FRAME_READ_TIMEOUT_MS + 5000))])
    assert.equal(idle.stream.status, 'open')
    assert.equal(origin.peerRefusalCounts['incomplete-frame'], 2)
    // The idle session still works.
    await idle.request(7, { type: 'status' })
    await waitFor(() => idle.answers.get('status-ok') === 1, { what: 'the idle session answered' })
  })

  it('a flood of well-formed requests for random ids over many streams: errors and busy answers, a legitimate pull served meanwhile, no pull sent back per recruit, nothing kept after', async () => {
    const loadBefore = origin.capacity.load
    const flooding = flood(attacker, { count: 1500, kinds: ALL_KINDS, streams: 8, timeoutMs: 30_000 })
    // The legitimate pull starts once the flood is being answered.
    const handled = (): number => Object.values(origin.requestCounts).reduce((a, b) => a + (b ?? 0), 0)
    const handledBefore = handled()
    await waitFor(() => handled() - handledBefore > 20, { timeoutMs: 30_000, what: 'the flood under way', progress: () => JSON.stringify(origin.requestCounts) })
    const answeredBefore = Object.values(origin.requestCounts).reduce((a, b) => a + (b ?? 0), 0)
    await legitimatePull()
    const duringPull = Object.values(origin.requestCounts).reduce((a, b) => a + (b ?? 0), 0) - answeredBefore
    const result = await flooding
    assert.ok(duringPull > 0, 'the flood was not being served during the legitimate pull')
    assert.ok(result.refusedStreams > 0, `all ${8} streams opened on one connection`)
    for (const key of result.answers.keys()) assert.ok(ANSWER_TYPES.has(key), `answer ${key}`)
    assert.ok(result.answered > 0 && (result.answers.get('not-found') ?? 0) > 0, JSON.stringify([...result.answers]))
    assert.ok((result.answers.get('busy') ?? 0) > 0, `no busy answer: ${JSON.stringify([...result.answers])}`)
    assert.equal(result.answers.get('pull-ok') ?? 0, 0)
    assert.ok(origin.peerRefusalCounts.recruits > 0)
    // Recruits of random ids: a few pulls back, not one per recruit.
    const recruits = Math.ceil(result.sent / ALL_KINDS.length)
    const reflected = attacker.received.get('pull') ?? 0
    assert.ok(reflected <= 2 * RECRUIT_BURST, `${reflected} pulls sent back for ${recruits} recruits`)

    await attacker.stop()
    await waitFor(() => !servingState(origin.libp2p).peers.includes(attacker.peerId) && servingState(origin.libp2p).inFlight === 0, {
      timeoutMs: 10_000, what: 'the attacker forgotten', progress: () => JSON.stringify(servingState(origin.libp2p))
    })
    // Only the legitimate pipe is left.
    assert.deepEqual(origin.getDistribution(source.producer.id)?.downstream, [legit.peerId])
    assert.equal(origin.pipeStats.outgoingPipes, 1)
    await waitFor(() => origin.capacity.load === loadBefore + 4, { what: 'the load back to one video pipe', progress: () => `load ${origin.capacity.load}` })
    const sink = sinks[0]!
    const before = sink.packets
    await sink.waitForPackets(before + 50, { timeoutMs: 5000 })
  })
})

describe('per-peer request bounds on a live node (peerLimits)', function () {
  this.timeout(60_000)
  let node: SwarmNode
  let attacker: Attacker

  beforeEach(async () => {
    node = await createSwarmNode({ peerLimits: { requestsPerSecond: 20, requestBurst: 20, requestsInFlight: 4 } })
    attacker = await createAttacker(node)
  })

  afterEach(async () => {
    await attacker?.stop()
    await node?.stop()
  })

  it('requests past requestBurst and requestsPerSecond are answered busy, and every request gets an answer', async () => {
    const session = await attacker.open()
    for (let i = 0; i < 100; i++) await session.request(i, { type: 'status' })
    await waitFor(() => session.answered === 100, { timeoutMs: 20_000, what: 'every answer', progress: () => `${session.answered} of 100` })
    const busy = session.answers.get('busy') ?? 0
    assert.ok(busy > 0 && (session.answers.get('status-ok') ?? 0) >= 20, JSON.stringify([...session.answers]))
    assert.equal(node.peerRefusalCounts.rate, busy)
  })

  it('at most requestsInFlight requests of one peer are handled at once; the others wait unread, then are answered', async () => {
    const session = await attacker.open()
    // Locates of unknown ids wait (waitMs) for an announcement before answering.
    for (let i = 0; i < 12; i++) await session.request(i, { type: 'locate', producerId: randomUUID(), waitMs: 300 })
    let most = 0
    await waitFor(() => {
      most = Math.max(most, servingState(node.libp2p).inFlight)
      return session.answered === 12
    }, { timeoutMs: 20_000, intervalMs: 5, what: 'every locate answered', progress: () => `${session.answered} of 12` })
    assert.equal(most, 4)
    assert.deepEqual([...session.answers.keys()], ['providers'])
  })
})
