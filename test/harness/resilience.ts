// Scenarios shared by the resilience tests: node processes (one OS process per node, its
// mediasoup worker in its process group), a source on the origin, watches that consume
// again on every restore, and the media gap a watch saw.
import assert from 'node:assert/strict'
import { waitFor } from './wait.js'
import { epochNow, largestGap, RemoteNode, waitProcessesConnected } from './process-node.js'
import type { SwarmNodeOptions } from '../../src/index.js'
import type { SpawnOptions, WatchReport } from './process-node.js'

/** Packets per second of the test sources: a gap is measured to within 10 ms. */
export const PPS = 100

/** Background errors of the node processes (the tests check none came). */
export const backgroundErrors: string[] = []

/** `count` node processes, each bootstrapping from the first; `nodes` gets them at once (for cleanup). */
export async function startNodes (nodes: RemoteNode[], count: number, options: (i: number) => SwarmNodeOptions, spawn: (i: number) => SpawnOptions = () => ({})): Promise<RemoteNode[]> {
  const spawned = await Promise.all(Array.from({ length: count }, async (_, i) => await RemoteNode.spawn(i, (text) => backgroundErrors.push(`node ${i}: ${text}`), spawn(i))))
  nodes.push(...spawned)
  for (const [i, node] of spawned.entries()) await node.start({ ...options(i), bootstrap: i === 0 ? [] : spawned[0]!.multiaddrs })
  await waitProcessesConnected(spawned, 10_000, 1)
  return spawned
}

/** A → B → C with A at fan-out 1; B and C watch a source of A, C through B. */
export async function relayChain (nodes: RemoteNode[], kind: 'audio' | 'video' = 'video', options: SwarmNodeOptions = {}): Promise<{ a: RemoteNode, b: RemoteNode, c: RemoteNode, producerId: string }> {
  const [a, b, c] = await startNodes(nodes, 3, (i) => ({ ...options, fanout: i === 0 ? 1 : 4 })) as [RemoteNode, RemoteNode, RemoteNode]
  const { producerId } = await a.request('createSource', { kind, packetsPerSecond: PPS })
  await a.request('startSource', { producerId })
  await b.request('watch', { producerId })
  await c.request('watch', { producerId })
  const report = await c.request('watchReport', { producerId, since: 0 })
  assert.equal(report.upstream, b.peerId, 'C must receive through B')
  await waitFor(async () => (await c.request('watchReport', { producerId, since: 0 })).packets >= 20, { timeoutMs: 5000, what: 'media at C' })
  return { a, b, c, producerId }
}

/** The media gap a watch saw after `at` (epoch ms), once media flows again for a while. */
export async function gapAfter (node: RemoteNode, producerId: string, at: number, withinMs: number): Promise<{ gapMs: number, resumedAfterMs: number, report: WatchReport }> {
  await waitFor(async () => {
    const r = await node.request('watchReport', { producerId, since: at })
    return r.arrivals.length >= 20 && r.arrivals.at(-1)! - r.arrivals[0]! > 150
  }, { timeoutMs: withinMs + 5000, what: 'media again' })
  const report = await node.request('watchReport', { producerId, since: at - 1000 })
  const { gapMs, resumedAt } = largestGap(report.arrivals, at, epochNow())
  return { gapMs, resumedAfterMs: (resumedAt ?? Infinity) - at, report }
}
