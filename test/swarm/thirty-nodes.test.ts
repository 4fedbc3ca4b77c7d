import assert from 'node:assert/strict'
import { RemoteNode, stopProcesses } from '../harness/process-node.js'
import type { Sample } from '../harness/timing.js'

const NODES = 30
const PULLS = 30
const PPS = 50

/** A seeded generator (mulberry32): a failing run can be replayed with its seed. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Thirty node processes (one Node.js process and one worker each, as in production), each
// joining through a random earlier one (so nobody is everyone's bootstrap); pulls from
// random nodes of producers of other random nodes, half of them made 2 s before the pull
// and half 100 ms before (a participant watched as soon as it joins). Every pull must
// succeed and deliver packets to a sink. How fast is bench/swarm-scale.ts's question.
describe(`a swarm of ${NODES} node processes`, function () {
  this.timeout(600_000)
  const nodes: RemoteNode[] = []
  const errors: string[] = []
  const seed = Number(process.env.SWARM_TEST_SEED ?? Date.now() % 100_000)
  const next = random(seed)
  const pick = <T>(items: T[], not?: T): T => {
    for (;;) {
      const item = items[Math.floor(next() * items.length)]!
      if (item !== not) return item
    }
  }

  before(async () => {
    // The processes load in parallel (a few at a time: 30 at once would only compete for
    // the two cores); the nodes join one after the other.
    for (let i = 0; i < NODES; i += 6) {
      const batch = Array.from({ length: Math.min(6, NODES - i) }, (_, j) => i + j)
      const spawned = await Promise.allSettled(batch.map(async (index) => await RemoteNode.spawn(index, (text) => errors.push(`node ${index}: ${text}`))))
      for (const s of spawned) if (s.status === 'fulfilled') nodes.push(s.value)
      const failed = spawned.find((s) => s.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    }
    // With the default connection limits: thirty nodes dialling from 127.0.0.1 are not held
    // to the per-IP bounds meant for a flood from one host (libp2p's own bound refused their
    // start-up dials, and a node began the pulls with a view of a few peers).
    for (const [i, node] of nodes.entries()) {
      await node.start({ bootstrap: i === 0 ? [] : pick(nodes.slice(0, i)).multiaddrs })
    }
  })

  after(async () => {
    await stopProcesses(nodes)
  })

  it(`${PULLS} pulls from random nodes, of old and just-made producers of random nodes: none fails, each delivers packets (seed in the message of a failure)`, async () => {
    const makeSource = async (origin: RemoteNode): Promise<string> => {
      const { producerId } = await origin.request('createSource', { kind: 'audio', packetsPerSecond: PPS })
      await origin.request('startSource', { producerId })
      return producerId
    }
    const failures: string[] = []
    const samples: Sample[] = []
    const pull = async (requester: RemoteNode, producerId: string): Promise<void> => {
      try {
        // pipeToRouter(), then a sink on the copy, then its first packet.
        samples.push(await requester.request('timedPull', { producerId }, 60_000))
      } catch (err) {
        failures.push(`${producerId} at node ${requester.index}: ${(err as Error).message}`)
      }
    }
    const old: Array<{ origin: RemoteNode, producerId: string }> = []
    for (let i = 0; i < PULLS / 2; i++) {
      const origin = pick(nodes)
      old.push({ origin, producerId: await makeSource(origin) })
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    for (const { origin, producerId } of old) await pull(pick(nodes, origin), producerId)
    for (let i = 0; i < PULLS / 2; i++) {
      const origin = pick(nodes)
      const producerId = await makeSource(origin)
      await new Promise((resolve) => setTimeout(resolve, 100))
      await pull(pick(nodes, origin), producerId)
    }
    // The nodes' background errors (a BootstrapError, a timeout) say what the swarm went through.
    assert.deepEqual(failures, [], `seed ${seed}; the nodes' errors: ${errors.slice(-20).join(' | ') || 'none'}`)
    assert.equal(samples.length, PULLS)
    // Each pull's sink got its first packet (timedPull waits for it): media flowed.
    assert.ok(samples.every((s) => Number.isFinite(s.total) && s.total > 0))
    assert.deepEqual(errors.filter((e) => /unhandled/i.test(e)), [])
  })
})
