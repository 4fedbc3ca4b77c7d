import assert from 'node:assert/strict'
import { format } from 'node:util'
import createDebug from 'debug'
import { createSwarmNode } from '../../src/index.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import type { ProducerDirectory } from '../../src/directory/producer-directory.js'
import { createRtpSink, createRtpSource, waitFor } from '../harness/index.js'
import { connectAll, mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSource } from '../harness/index.js'

/** The namespace of the puller's log (src/node/pulling/producer-puller.ts): a skipped provider is logged there. */
const PULL_LOG = 'mediasoup-swarm:node:pull'

/**
 * Collects the lines logged under `namespace` until stop(): the namespace is enabled for that
 * time, lines of other namespaces go on to the usual output, and DEBUG is restored after.
 */
function captureLog (namespace: string): { lines: string[], stop: () => void } {
  const lines: string[] = []
  const log = createDebug.log
  const wasEnabled = createDebug.enabled(namespace)
  const previous = createDebug.disable()
  createDebug.enable(previous === '' ? namespace : `${previous},${namespace}`)
  // A skip in DEBUG (say -mediasoup-swarm:*) would hide it: then only it, for this time.
  if (!createDebug.enabled(namespace)) createDebug.enable(namespace)
  createDebug.log = function (this: createDebug.Debugger, ...args: unknown[]) {
    if (this.namespace === namespace) lines.push(format(...args))
    if (this.namespace !== namespace || wasEnabled) log.apply(this, args)
  }
  return {
    lines,
    stop: () => {
      createDebug.log = log
      createDebug.enable(previous)
    }
  }
}

// Provider records can outlive their producer: a home misses a withdrawal (the provider
// died, or the message was lost) and keeps the record until it expires, as DHT records do.
// A requester must skip stale records and dead peers quickly and reach a node that really
// has it, and undo what an answer that came too late built.
describe('stale provider records, dead peers and late answers', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []
  const closers: Array<() => unknown> = []
  const producerId = 'a2f1e0b4-0c1d-4f2e-9a3b-5c6d7e8f9a0b'

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
    await stopAll(nodes)
  })

  /** Starts a live audio producer with the suite's id on `node`, which announces it. */
  async function announceOn (node: SwarmNode): Promise<RtpSource> {
    const source = await createRtpSource({ router: await node.createRouter({ mediaCodecs }), kind: 'audio', producerId })
    closers.push(() => source.close())
    return source
  }

  /** `node`'s directory: what its pulls look producers up in. */
  const directoryOf = (node: SwarmNode): ProducerDirectory => (node as unknown as { directory: ProducerDirectory }).directory

  /** Providers `node`'s lookup yields, in order, until `last` is among them (or the lookup ends). */
  async function lookupUntil (node: SwarmNode, last: SwarmNode): Promise<string[]> {
    const found: string[] = []
    for await (const peerId of directoryOf(node).findProviders(producerId, AbortSignal.timeout(2000))) {
      found.push(peerId)
      if (peerId === last.peerId) break
    }
    return found
  }

  /** Waits until D's own lookup yields A's record first and B's after it: what D's pull will see. */
  async function waitStaleFirst (d: SwarmNode, a: SwarmNode, b: SwarmNode): Promise<void> {
    let found: string[] = []
    await waitFor(async () => {
      found = await lookupUntil(d, b)
      return found[0] === a.peerId && found.includes(b.peerId)
    }, { what: "D's lookup to yield A, then B", timeoutMs: 10_000, progress: () => `[${found.join(', ')}] with A ${a.peerId}, B ${b.peerId}` })
  }

  /**
   * Four nodes, each connected to every other: A and B will provide the producer, D will
   * pull it. Connected before anyone announces, so that D holds each provider's record from
   * its announcement: a connection to B opened later would hand D B's record anew, newer than A's.
   */
  async function fourNodes (): Promise<{ a: SwarmNode, b: SwarmNode, d: SwarmNode }> {
    nodes = await startChain(4)
    // Generous: set-up time is not what these tests measure.
    await connectAll(nodes, 15_000)
    const [a, b, , d] = nodes as [SwarmNode, SwarmNode, SwarmNode, SwarmNode]
    return { a, b, d }
  }

  it('skips a provider whose producer closed and pulls from the node that has it now', async () => {
    const { a, b, d } = await fourNodes()
    const sourceOnA = await announceOn(a)
    sourceOnA.close()
    await announceOn(b)
    // A's withdrawal reached the homes; a record of A that a home kept anyway (here: A
    // announces it once more, to every node, as a message that overtook the withdrawal).
    for (const home of nodes.filter((n) => n !== a)) {
      await request(a.libp2p, home.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'announce', producerIds: [producerId], withdrawn: [] }, 2000)
    }
    await waitStaleFirst(d, a, b)
    const pullsAtA = a.requestCounts.pull ?? 0

    const router = await d.createRouter({ mediaCodecs })
    const started = Date.now()
    await d.pipeToRouter({ producerId, router })
    const elapsed = Date.now() - started
    assert.equal(d.getDistribution(producerId)?.upstream, b.peerId)
    assert.equal(a.requestCounts.pull, pullsAtA + 1, 'D asked A (answered not-found) once')
    // Well under one pull deadline (7.5 s): A was skipped on its answer, not on a timeout.
    assert.ok(elapsed < 1500, `took ${elapsed} ms`)
    const sink = await createRtpSink({ router, producerId })
    closers.push(() => sink.close())
    await sink.waitForPackets(10, { timeoutMs: 3000 })
  })

  it('skips a provider that is gone (stopped node) and pulls from the node that has it now', async () => {
    const { a, b, d } = await fourNodes()
    await announceOn(b)
    // A announces once D holds B's record (the newer record comes first), then stops without withdrawing.
    await waitFor(async () => (await lookupUntil(d, b)).includes(b.peerId), { what: "B's record at D" })
    await announceOn(a)
    await waitStaleFirst(d, a, b)
    await a.stop()

    const router = await d.createRouter({ mediaCodecs })
    const pullLog = captureLog(PULL_LOG)
    const started = Date.now()
    try {
      await d.pipeToRouter({ producerId, router })
    } finally {
      pullLog.stop()
    }
    const elapsed = Date.now() - started
    assert.equal(d.getDistribution(producerId)?.upstream, b.peerId)
    // The pull tried A and gave it up, and the record stayed: only the skip got D past it.
    assert.ok(pullLog.lines.some((line) => line.includes(`pull of ${producerId} from ${a.peerId}: `)), `D did not try A: ${pullLog.lines.join(' | ')}`)
    assert.equal((await lookupUntil(d, b))[0], a.peerId, "A's record still first in D's lookup")
    // Well under one pull deadline (7.5 s): the refused dial was skipped at once.
    assert.ok(elapsed < 1500, `took ${elapsed} ms`)
  })

  it('provider records (home and DHT) of a stopped node expire after the provider validity', async () => {
    nodes = await startChain(3, { timeouts: { providerValidity: 3000, dhtRecordValidity: 3000, dhtProvideDelay: 100 } })
    await waitConnected(nodes)
    const [a, , c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    await announceOn(a)
    const key = await producerKey(producerId)
    const inDht = async (node: SwarmNode): Promise<boolean> => {
      try {
        for await (const p of node.libp2p.contentRouting.findProviders(key, { signal: AbortSignal.timeout(500) })) if (p.id.equals(a.libp2p.peerId)) return true
      } catch {
        // The lookup deadline ends the search: not found.
      }
      return false
    }
    const atHomes = async (node: SwarmNode): Promise<boolean> => {
      for await (const peerId of directoryOf(node).findProviders(producerId, AbortSignal.timeout(200))) if (peerId === a.peerId) return true
      return false
    }
    // The DHT record follows the homes' after a moment (it is put in the background).
    await waitFor(async () => await atHomes(c) && await inDht(c), { timeoutMs: 8000, what: "C sees A's records" })
    await a.stop()
    const stopped = Date.now()
    while (await atHomes(c) || await inDht(c)) {
      assert.ok(Date.now() - stopped < 10_000, 'record still there 10 s after a 3 s validity')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })

  it('a pull answered after its deadline is released: the origin keeps no consumer, pipe or downstream slot for a copy nobody made', async () => {
    const a = await createSwarmNode({ timeouts: { dhtProvideDelay: 100 } })
    // Every request of B runs out of time (a pull gets 2.5 × 0.2 ms, rounded up to 1 ms)
    // before the origin can answer (a worker round trip or two): the lookup ends before a
    // second attempt (200 ms later), so exactly one pull is sent.
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, timeouts: { request: 0.2, lookup: 150 } })
    nodes = [a, b]
    await waitConnected(nodes)
    const source = await createRtpSource({ router: await a.createRouter({ mediaCodecs }), kind: 'audio' })
    closers.push(() => source.close())
    const routerB = await b.createRouter({ mediaCodecs })
    // B's store has A's record, and its request session to A is open: the pull is sent at once.
    await waitFor(async () => {
      try {
        for await (const provider of b.libp2p.services.dht.findProviders(await producerKey(source.producer.id), { signal: AbortSignal.timeout(500) })) {
          if (provider.name === 'PROVIDER' && provider.providers.some((p) => p.id.equals(a.libp2p.peerId))) return true
        }
      } catch {
        // A lookup that ran out of time: not there yet, look again.
      }
      return false
    }, { what: "A's record at B" })
    await request(b.libp2p, a.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'status' }, 2000)

    await assert.rejects(b.pipeToRouter({ producerId: source.producer.id, router: routerB }), /tried .*: timeout/)
    assert.equal(a.requestCounts.pull, 1)
    await waitFor(() => a.requestCounts.release === 1, { what: 'the release', timeoutMs: 3000 })
    await waitFor(() => a.pipeStats.outgoingConsumers === 0 && a.pipeStats.outgoingPipes === 0, { what: 'the origin released everything', timeoutMs: 3000 })
    assert.deepEqual(a.getDistribution(source.producer.id)?.downstream, [])
    assert.deepEqual(b.pipeStats, { outgoingPipes: 0, incomingPipes: 0, outgoingConsumers: 0, incomingProducers: 0 })
  })
})
