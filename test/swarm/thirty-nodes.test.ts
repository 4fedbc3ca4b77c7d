import assert from 'node:assert/strict'
import { createSwarmNode } from '../../src/index.js'
import { createRtpSink, createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs, stopAll } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { RtpSink, RtpSource } from '../harness/index.js'

const NODES = 30
const PULLS = 30

/** A seeded generator (mulberry32): a failing run can be replayed with its seed. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Thirty nodes in this process, each joining through a random earlier one (so nobody is
// everyone's bootstrap), each with a live source; pulls from random nodes of producers of
// other random nodes, half of them made just before the pull. Every pull must succeed and
// deliver packets. Timings are the benchmark's (bench/swarm-scale.ts), not asserted here.
describe(`a swarm of ${NODES} nodes`, function () {
  this.timeout(300_000)
  const nodes: SwarmNode[] = []
  const sources: RtpSource[] = []
  const sinks: RtpSink[] = []
  const seed = Number(process.env.SWARM_TEST_SEED ?? Date.now() % 100_000)
  const next = random(seed)
  const pick = <T>(items: T[], not?: T): T => {
    for (;;) {
      const item = items[Math.floor(next() * items.length)]!
      if (item !== not) return item
    }
  }

  before(async () => {
    for (let i = 0; i < NODES; i++) {
      // Generous deadlines: this test is about finding every producer, not how fast
      // (bench/swarm-scale.ts measures that, one process per node); thirty nodes sharing this
      // one JavaScript thread on a busy machine answer slowly.
      nodes.push(await createSwarmNode({ bootstrap: i === 0 ? [] : pick(nodes).multiaddrs, timeouts: { lookup: 30_000, request: 10_000 } }))
    }
    await waitFor(() => nodes.every((n) => n.peers.length >= 1), { timeoutMs: 30_000, what: 'every node connected' })
  })

  after(async () => {
    for (const sink of sinks) sink.close()
    for (const source of sources) source.close()
    await stopAll(nodes)
  })

  it(`${PULLS} pulls from random nodes, of old and just-made producers of random nodes: none fails, each delivers packets (seed in the title of a failure)`, async () => {
    const routers = new Map<SwarmNode, Awaited<ReturnType<SwarmNode['createRouter']>>>()
    const routerOf = async (node: SwarmNode): Promise<Awaited<ReturnType<SwarmNode['createRouter']>>> => {
      let router = routers.get(node)
      if (router === undefined) routers.set(node, router = await node.createRouter({ mediaCodecs }))
      return router
    }
    const makeSource = async (origin: SwarmNode): Promise<RtpSource> => {
      const source = await createRtpSource({ router: await routerOf(origin), kind: 'audio', packetsPerSecond: 50 })
      sources.push(source)
      return source
    }
    // Producers made 2 s before their pulls, on random nodes.
    const old: Array<{ origin: SwarmNode, source: RtpSource }> = []
    for (let i = 0; i < PULLS / 2; i++) {
      const origin = pick(nodes)
      old.push({ origin, source: await makeSource(origin) })
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const failures: string[] = []
    const pull = async (requester: SwarmNode, producerId: string): Promise<void> => {
      try {
        const router = await routerOf(requester)
        await requester.pipeToRouter({ producerId, router })
        const sink = await createRtpSink({ router, producerId })
        sinks.push(sink)
        await sink.waitForPackets(5, { timeoutMs: 5000 })
      } catch (err) {
        failures.push(`${producerId} at node ${nodes.indexOf(requester)}: ${(err as Error).message}`)
      }
    }
    for (const { origin, source } of old) await pull(pick(nodes, origin), source.producer.id)
    // Producers pulled 100 ms after they were made (a participant watched as soon as it joins).
    for (let i = 0; i < PULLS / 2; i++) {
      const origin = pick(nodes)
      const source = await makeSource(origin)
      await new Promise((resolve) => setTimeout(resolve, 100))
      await pull(pick(nodes, origin), source.producer.id)
    }
    assert.deepEqual(failures, [], `seed ${seed}`)
  })
})
