import assert from 'node:assert/strict'
import { sleep, waitFor } from '../harness/index.js'
import { assertNetnsUsable, createNetwork, removeStale } from '../harness/netns.js'
import { epochNow, largestGap, RemoteNode } from '../harness/process-node.js'
import { DEFAULT_TIMEOUTS } from '../../src/node/options.js'
import type { NetnsHost, NetnsNetwork } from '../harness/netns.js'
import type { WatchReport } from '../harness/process-node.js'

/** Packets per second of the test source: a gap is measured to within 10 ms. */
const PPS = 100
/** The nodes' timeouts.mediaSilence: a shorter partition must not restore anything. */
const MEDIA_SILENCE_MS = DEFAULT_TIMEOUTS.mediaSilence
const PING_MS = 2000

// A real partition: each node is a process in a network namespace of its own, on one bridge;
// cutting a node makes its packets vanish (no RST, no ICMP) while its process and sockets
// live on. A source on A (fan-out 1) reaches C through the relay B.
describe('a relay cut off the network (one network namespace per node)', function () {
  this.timeout(60_000)
  let net: NetnsNetwork | undefined
  let nodes: RemoteNode[] = []
  const backgroundErrors: string[] = []

  before(async () => {
    await assertNetnsUsable()
    await removeStale()
  })

  afterEach(async () => {
    try {
      await Promise.all(nodes.map(async (n) => await n.stop()))
    } finally {
      nodes = []
      backgroundErrors.length = 0
      // Also when a node would not stop: the namespaces go either way.
      await net?.cleanup()
      net = undefined
    }
  })

  /** A → B → C, each on its own host; C watches a source of A (100 pps video). */
  async function chain (): Promise<{ a: RemoteNode, b: RemoteNode, c: RemoteNode, hostOfB: NetnsHost, producerId: string }> {
    net = await createNetwork(3)
    const hosts = net.hosts
    const spawned = await Promise.allSettled(hosts.map(async (host, i) => await RemoteNode.spawn(i, (text) => backgroundErrors.push(`node ${'ABC'[i]}: ${text}`), { netns: host.netns })))
    // Those that did start are stopped by afterEach.
    nodes = spawned.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
    for (const r of spawned) if (r.status === 'rejected') throw r.reason
    const [a, b, c] = nodes as [RemoteNode, RemoteNode, RemoteNode]
    for (const [i, node] of nodes.entries()) {
      const { ip } = hosts[i]!
      // Pings every 2 s (default 20 s): A, above the cut, finds out within the test's time.
      // Open swarm: only this test's namespaces reach these addresses.
      await node.start({ listen: [`/ip4/${ip}/tcp/0`], openSwarm: true, pipeListenIp: ip, fanout: i === 0 ? 1 : 4, bootstrap: i === 0 ? [] : a.multiaddrs, timeouts: { ping: PING_MS } })
    }
    assert.ok(a.multiaddrs.every((m) => m.startsWith(`/ip4/${hosts[0]!.ip}/tcp/`)), `A listens on its host's address only: ${a.multiaddrs.join(', ')}`)
    await waitFor(async () => (await Promise.all(nodes.map(async (n) => (await n.request('info', {})).peers.length))).every((p) => p >= 1), { timeoutMs: 10_000, what: 'the nodes connected' })
    const { producerId } = await a.request('createSource', { kind: 'video', packetsPerSecond: PPS })
    await a.request('startSource', { producerId })
    await b.request('watch', { producerId })
    await c.request('watch', { producerId })
    assert.equal((await c.request('watchReport', { producerId, since: 0 })).upstream, b.peerId, 'C must receive through B')
    await waitFor(async () => (await c.request('watchReport', { producerId, since: 0 })).packets >= 20, { timeoutMs: 5000, what: 'media at C' })
    return { a, b, c, hostOfB: hosts[1]!, producerId }
  }

  /**
   * C's longest silence from `from` (epoch ms) on, once media has flowed for a while after
   * `flowingAfter`. The silence starts when a cut takes hold, whenever the `ip` command
   * that made it ran, so it is the media gap the cut caused.
   */
  async function gapAt (c: RemoteNode, producerId: string, from: number, flowingAfter: number, withinMs: number): Promise<{ gapMs: number, report: WatchReport }> {
    await waitFor(async () => {
      const r = await c.request('watchReport', { producerId, since: flowingAfter })
      return r.arrivals.length >= 20 && r.arrivals.at(-1)! - r.arrivals[0]! > 150
    }, { timeoutMs: withinMs + 5000, what: 'media at C again' })
    const report = await c.request('watchReport', { producerId, since: from - 1000 })
    return { gapMs: largestGap(report.arrivals, from, epochNow()).gapMs, report }
  }

  /** Stops every node: each process exits by itself with code 0 (not killed after a timeout). */
  async function stopCleanly (): Promise<void> {
    await Promise.all(nodes.map(async (n) => await n.stop()))
    assert.deepEqual(nodes.map((n) => n.exitCode), nodes.map(() => 0), 'exit codes')
  }

  const events = (report: WatchReport): string[] => report.events.map((e) => e.type === 'copyclosed' ? `${e.type} ${e.detail}` : e.type)
  const peersOf = async (node: RemoteNode): Promise<string[]> => (await node.request('info', {})).peers

  it('C is restored from A within 3 s of the cut, A gives B up, and B rejoins once its link is back', async () => {
    const { a, b, c, hostOfB, producerId } = await chain()
    const cutAt = epochNow()
    // A pulled cable: B's link goes down.
    await net!.cut(hostOfB, 'link-down')

    const { gapMs, report } = await gapAt(c, producerId, cutAt, epochNow(), 3000)
    // Not shorter than mediaSilence either: else the cut did not cut.
    assert.ok(gapMs > MEDIA_SILENCE_MS && gapMs <= 3000, `no media at C for ${gapMs.toFixed(0)} ms`)
    assert.equal(report.upstream, a.peerId, 'C now receives from A')
    assert.deepEqual(events(report), ['copyclosed upstreamlost', 'producerrestored'])

    // Nothing tells A that B is gone: its pings to B go unanswered, and no report of B's
    // worker comes on the pipe to B, until it gives B up.
    await waitFor(async () => {
      const downstream = (await a.request('getDistribution', { producerId }))?.downstream ?? []
      return !downstream.includes(b.peerId) && downstream.includes(c.peerId)
    }, { timeoutMs: 20_000, what: "A's downstream: C, not B" })
    const givenUpAfterMs = epochNow() - cutAt
    // B, alone on its side of the cut, loses every peer too.
    await waitFor(async () => (await peersOf(b)).length === 0, { timeoutMs: 10_000, what: 'B without peers' })

    const restoredAt = epochNow()
    await net!.restore(hostOfB)
    // B, alone, dials its bootstrap address at least every 8 s (±20 %), and a refusal while
    // A still quarantines it holds B back for seconds, not rounds of backing off.
    await waitFor(async () => (await peersOf(b)).length > 0 && (await peersOf(a)).includes(b.peerId), { timeoutMs: 20_000, what: 'B back in the swarm' })
    console.log(`      no media at C for ${gapMs.toFixed(0)} ms, A had dropped B ${givenUpAfterMs.toFixed(0)} ms after the cut, B rejoined ${(epochNow() - restoredAt).toFixed(0)} ms after the restore`)

    // C stays on A. B may have reported what it could not reach while cut off (a notice to
    // C that timed out, a bootstrap round that failed); nothing else went wrong anywhere.
    assert.equal((await c.request('watchReport', { producerId, since: 0 })).upstream, a.peerId)
    for (const node of [a, b, c]) assert.deepEqual((await node.request('counts', {})).errors, [])
    assert.deepEqual(backgroundErrors.filter((e) => !/^node B: (RequestTimeoutError|BootstrapError): /.test(e)), [])
    await stopCleanly()
  })

  it(`a partition shorter than mediaSilence (${MEDIA_SILENCE_MS} ms) costs a short gap and restores nothing`, async () => {
    const { a, b, c, hostOfB, producerId } = await chain()
    const cutAt = epochNow()
    // A switch that drops B's frames for a moment: B's link stays up, and the restore is
    // immediate, so the gap measures the partition (see CutHow).
    await net!.cut(hostOfB, 'drop')
    await sleep(300)
    await net!.restore(hostOfB)
    // Long enough for a silent upstream to be pinged and given up, and a restore to show.
    await sleep(MEDIA_SILENCE_MS + 2000)

    const report = await c.request('watchReport', { producerId, since: cutAt - 1000 })
    const { gapMs } = largestGap(report.arrivals, cutAt, epochNow())
    console.log(`      gap at C ${gapMs.toFixed(0)} ms`)
    // At least the partition itself (it really happened), well below what a restore takes.
    assert.ok(gapMs >= 250 && gapMs < MEDIA_SILENCE_MS, `a gap of ${gapMs.toFixed(0)} ms`)
    assert.equal(report.upstream, b.peerId, 'C still receives through B')
    assert.deepEqual(report.events, [])
    assert.deepEqual((await b.request('watchReport', { producerId, since: 0 })).events, [])
    assert.deepEqual((await a.request('getDistribution', { producerId }))?.downstream, [b.peerId])
    for (const node of [a, b, c]) assert.deepEqual((await node.request('counts', {})).errors, [])
    assert.deepEqual(backgroundErrors, [])
    await stopCleanly()
  })
})
