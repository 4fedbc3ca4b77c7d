// Sybil smoke (issue 11, item 9): an open swarm of 21 real nodes, 7 of them liars
// (test/security/sybil-liar.ts) that claim every honest producer (announce to every node,
// DHT provider records) and answer its pulls with garbage, wrong answers, redirects to
// nodes that do not have it (two bystanders that never get a producer, and the requester
// itself), not-found, or nothing at all; as homes they name liars only.
// Honest pulls must still succeed within the lookup timeout (≥ 95 %), with real RTP at a
// sink for a sample; each liar that lied to a node is penalised there, nobody penalises an
// honest node for a liar's words, and a second round of pulls asks no penalised liar.
import assert from 'node:assert/strict'
import { createSwarmNode } from '../../src/index.js'
import { createRtpSink, createRtpSource, latencyStats, waitFor } from '../harness/index.js'
import { mediaCodecs, stopAll, waitConnected } from '../harness/swarm.js'
import { createLiar, LIES } from './sybil-liar.js'
import type { ProviderPenalty, SwarmNode, SwarmNodeOptions } from '../../src/index.js'
import type { RtpSink, RtpSource } from '../harness/index.js'
import type { Liar } from './sybil-liar.js'
import type { types as ms } from 'mediasoup'

const HONEST = 14
const LIARS = LIES.length
const PRODUCERS = 10
const PULLS_PER_ROUND = 40
/** Pulls under way at once. */
const CONCURRENT = 4
/** Every SAMPLE_EVERY-th pull gets a sink: real RTP counted there. */
const SAMPLE_EVERY = 4
/** The nodes' lookup timeout (the library's default, given explicitly). */
const LOOKUP_MS = 5000

/** A seeded generator (mulberry32): a failing run can be replayed with its seed. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface PullOutcome { requester: SwarmNode, producerId: string, ms: number, error?: Error, packets?: number }

describe(`an open swarm of ${HONEST + LIARS} nodes, a third of them lying about producers`, function () {
  this.timeout(180_000)
  const seed = Number(process.env.SYBIL_TEST_SEED ?? Date.now() % 100_000)
  const next = random(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
  const honest: SwarmNode[] = []
  /** Two honest nodes that never make nor pull a producer: what the redirecting liar names. */
  const bystanders = (): SwarmNode[] => honest.slice(0, 2)
  /** The honest nodes that make and pull producers. */
  const active = (): SwarmNode[] => honest.slice(2)
  const liars: Liar[] = []
  const routers = new Map<SwarmNode, ms.Router>()
  const sources: RtpSource[] = []
  /** Producer id → the node it was made on. */
  const origins = new Map<string, SwarmNode>()
  const sinks: RtpSink[] = []
  /** Penalties given by honest nodes: [the node that penalised, the penalty]. */
  const penalties: Array<[SwarmNode, ProviderPenalty]> = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  // Handshakes get libp2p's own 10 s: 21 nodes in one process on a busy 2-core machine
  // miss the default 3 s now and then, and a join or a claim that fails is not the point here.
  // Records go to the DHT 2 s after the homes, as docs/security.md advises for an open swarm:
  // where the homes a requester knows are all liars, the DHT's 20 copies are the way round
  // them (with the default 5 min, 35 of 40 honest pulls succeeded in one run).
  const options: SwarmNodeOptions = { openSwarm: true, timeouts: { lookup: LOOKUP_MS, dhtProvideDelay: 2000 }, connectionLimits: { handshakeTimeoutMs: 10_000 } }

  before(async function () {
    process.on('unhandledRejection', onUnhandled)
    // Liars join among the honest nodes (every third), each through a random earlier node.
    const all: Array<SwarmNode | Liar> = []
    const addressesOf = (n: SwarmNode | Liar): string[] => ('node' in n ? n.node : n).multiaddrs
    for (let i = 0; i < HONEST + LIARS; i++) {
      const bootstrap = all.length === 0 ? [] : addressesOf(pick(all))
      if (i % 3 === 2 && liars.length < LIARS) {
        const redirectTo = (requester: string): SwarmNode[] => [...bystanders(), ...honest.filter((h) => h.peerId === requester)]
        const liar = await createLiar({ lie: LIES[liars.length]!, liars: () => liars, redirectTo }, { ...options, bootstrap })
        liars.push(liar)
        all.push(liar)
      } else {
        const node = await createSwarmNode({ ...options, bootstrap })
        node.on('providerpenalised', (penalty) => penalties.push([node, penalty]))
        honest.push(node)
        all.push(node)
      }
    }
    assert.equal(honest.length, HONEST)
    assert.equal(liars.length, LIARS)
    // Every node joined (lookups dial providers and homes on demand).
    await waitConnected([...honest, ...liars.map((l) => l.node)], 60_000, 1)
    for (const node of honest) routers.set(node, await node.createRouter({ mediaCodecs }))
    for (let i = 0; i < PRODUCERS; i++) {
      const origin = pick(active())
      const source = await createRtpSource({ router: routers.get(origin)!, kind: 'audio', packetsPerSecond: 50 })
      sources.push(source)
      origins.set(source.producer.id, origin)
    }
    // After the origins' own announcements: the liars' records are the most recent ones,
    // which homes list first.
    const ids = sources.map((s) => s.producer.id)
    // One liar after the other: seven new connections at once from one address would be
    // over a node's inbound rate (connectionLimits.inboundPerIpPerSecond).
    const announced: number[] = []
    for (const liar of liars) announced.push(await liar.announce(ids, honest))
    const stored = await Promise.all(liars.map(async (liar) => await liar.provide(ids, 10_000)))
    console.log(`      seed ${seed}; each liar's claim of the ${PRODUCERS} producers taken by (of ${HONEST} honest nodes): ${announced.join(', ')}; DHT provider records stored: ${stored.join(', ')}`)
    assert.ok(announced.every((n) => n >= HONEST / 2), 'the liars\' announcements reached the honest nodes')
  })

  after(async () => {
    process.off('unhandledRejection', onUnhandled)
    for (const sink of sinks) sink.close()
    for (const source of sources) source.close()
    await stopAll([...honest, ...liars.map((l) => l.node)])
  })

  /** Distinct (requester, producer) pairs, the requester not the producer's origin nor a node that pulled it before. */
  const pulled = new Set<string>()
  function pairs (n: number): Array<{ requester: SwarmNode, producerId: string }> {
    const out: Array<{ requester: SwarmNode, producerId: string }> = []
    while (out.length < n) {
      const requester = pick(active())
      const source = pick(sources)
      const key = `${requester.peerId} ${source.producer.id}`
      if (origins.get(source.producer.id) === requester || pulled.has(key)) continue
      pulled.add(key)
      out.push({ requester, producerId: source.producer.id })
    }
    return out
  }

  async function round (): Promise<PullOutcome[]> {
    const work = pairs(PULLS_PER_ROUND)
    const outcomes: PullOutcome[] = []
    const one = async (i: number): Promise<void> => {
      const { requester, producerId } = work[i]!
      const router = routers.get(requester)!
      const started = performance.now()
      try {
        await requester.pipeToRouter({ producerId, router })
      } catch (err) {
        outcomes.push({ requester, producerId, ms: performance.now() - started, error: err as Error })
        return
      }
      const outcome: PullOutcome = { requester, producerId, ms: performance.now() - started }
      outcomes.push(outcome)
      if (i % SAMPLE_EVERY === 0) {
        const sink = await createRtpSink({ router, producerId })
        sinks.push(sink)
        await sink.waitForPackets(10, { timeoutMs: 10_000 })
        outcome.packets = sink.packets
      }
    }
    for (let i = 0; i < work.length; i += CONCURRENT) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENT, work.length - i) }, async (_, j) => { await one(i + j) }))
    }
    return outcomes
  }

  function describeRound (name: string, outcomes: PullOutcome[]): { ok: number, rate: number } {
    const ok = outcomes.filter((o) => o.error === undefined && o.ms <= LOOKUP_MS).length
    const times = latencyStats(outcomes.filter((o) => o.error === undefined).map((o) => o.ms))
    const sampled = outcomes.filter((o) => o.packets !== undefined)
    console.log(`      ${name}: ${ok}/${outcomes.length} pulls within ${LOOKUP_MS} ms; p50 ${times.p50.toFixed(0)} ms, max ${times.max.toFixed(0)} ms; RTP at ${sampled.length} sampled sinks (≥ 10 packets each)`)
    for (const o of outcomes.filter((o) => o.error !== undefined || o.ms > LOOKUP_MS)) console.log(`        slow or failed: ${o.producerId} at ${o.requester.peerId}: ${Math.round(o.ms)} ms ${o.error?.message ?? ''}`)
    return { ok, rate: ok / outcomes.length }
  }

  /** Pulls each liar got, by honest requester. */
  const snapshot = (): Map<Liar, Map<string, number>> => new Map(liars.map((l) => [l, new Map(l.pullsFrom)]))

  it('honest pulls succeed within the lookup timeout despite the liars, the liars are penalised where they lied, and a second round asks no penalised liar', async () => {
    const first = await round()
    const r1 = describeRound('round 1', first)
    assert.ok(r1.rate >= 0.95, `round 1: ${r1.ok}/${first.length} within ${LOOKUP_MS} ms (seed ${seed})`)
    assert.ok(first.filter((o) => o.packets !== undefined).length >= PULLS_PER_ROUND / SAMPLE_EVERY * 0.9, 'RTP at the sampled sinks')

    // The path ran: the liars were asked, and lied.
    const lies = liars.reduce((n, l) => n + l.pulls, 0)
    console.log(`      lies told in round 1 (pulls answered with a lie): ${liars.map((l) => `${l.lie} ${l.pulls}`).join(', ')}`)
    assert.ok(lies > 0, 'no liar was asked')

    // Each liar that got a pull from an honest node is penalised there (a hanging liar once
    // its pull's deadline passed: 2.5 × 3 s).
    const lied = (): Array<[Liar, SwarmNode]> => liars.flatMap((l) => honest.filter((h) => (l.pullsFrom.get(h.peerId) ?? 0) > 0).map((h): [Liar, SwarmNode] => [l, h]))
    await waitFor(() => lied().every(([l, h]) => h.penalisedProviders.has(l.peerId)), {
      timeoutMs: 20_000,
      what: 'every liar penalised where it lied',
      progress: () => lied().filter(([l, h]) => !h.penalisedProviders.has(l.peerId)).map(([l, h]) => `${l.lie} at ${h.peerId}`).join('; ')
    })
    const byReason = new Map<string, number>()
    for (const [, p] of penalties) byReason.set(p.reason, (byReason.get(p.reason) ?? 0) + 1)
    console.log(`      penalties: ${[...byReason].map(([r, n]) => `${r} ${n}`).join(', ')}; ${lied().length} (liar, node) pairs, each penalised`)
    // Liars never get an honest node penalised, whatever they named.
    const honestIds = new Set(honest.map((h) => h.peerId))
    assert.deepEqual(penalties.filter(([, p]) => honestIds.has(p.peerId)).map(([h, p]) => `${p.peerId} at ${h.peerId}: ${p.reason} (${p.error.message})`), [])
    // Each penalty names the lie its liar tells.
    const expected: Record<string, string[]> = {
      hang: ['timeout'], garbage: ['garbage'], noise: ['garbage'], 'wrong-pipe': ['garbage'], 'bad-params': ['garbage'], redirect: ['redirect'], deny: ['not-found']
    }
    for (const [, p] of penalties) {
      const liar = liars.find((l) => l.peerId === p.peerId)!
      assert.ok(expected[liar.lie]!.includes(p.reason), `${liar.lie} liar penalised for ${p.reason}`)
    }

    // Round 2: new pairs; no node asks a liar it penalised.
    const penalisedAt = new Map(honest.map((h) => [h, new Set(h.penalisedProviders.keys())]))
    const before = snapshot()
    const second = await round()
    const r2 = describeRound('round 2', second)
    assert.ok(r2.rate >= 0.95, `round 2: ${r2.ok}/${second.length} within ${LOOKUP_MS} ms (seed ${seed})`)
    const asked: string[] = []
    let round2Pulls = 0
    for (const liar of liars) {
      for (const h of honest) {
        const n = (liar.pullsFrom.get(h.peerId) ?? 0) - (before.get(liar)!.get(h.peerId) ?? 0)
        round2Pulls += n
        if (n > 0 && penalisedAt.get(h)!.has(liar.peerId)) asked.push(`${liar.lie} liar asked ${n}× by ${h.peerId}, which had penalised it`)
      }
    }
    console.log(`      pulls the liars got: round 1 ${lies}, round 2 ${round2Pulls} (from nodes that had not met them yet)`)
    assert.deepEqual(asked, [])
    assert.ok(round2Pulls < lies, 'round 2 asked the liars less than round 1')
    assert.deepEqual(unhandled, [], 'unhandled rejections')
  })
})
