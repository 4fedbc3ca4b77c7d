import '../src/platform/promise-with-resolvers.js'
// How long media stops at a sink when the relay above it fails, or drains: one OS process
// per node (its mediasoup worker in its process group), a video source of 100 packets/s on
// A (fan-out 1), B relaying to C; C's sink is consumed again on `producerrestored`, as an
// app does. The gap is the longest silence at C's sink after the event; "back after" is
// the time from the event to the first packet after that silence. Each run uses new
// processes. Then a subtree of 8 nodes below a killed relay: the time until every one of
// them has media again.
import { formatTable, waitFor } from '../test/harness/index.js'
import { epochNow, largestGap, stopProcesses } from '../test/harness/process-node.js'
import { gapAfter, PPS, relayChain, startNodes } from '../test/harness/resilience.js'
import { ErrorLog, heading, summary } from './common.js'
import type { Benchmark } from './common.js'
import type { RemoteNode } from '../test/harness/process-node.js'

const RUNS = 10
const SUBTREE_RUNS = 3
const SUBTREE_SIZE = 8

const TARGETS = { kill: 1000, freeze: 3000, drain: 500 } as const

type Event = keyof typeof TARGETS

async function oneRun (event: Event, errors: ErrorLog): Promise<{ gapMs: number, backAfterMs: number }> {
  const nodes: RemoteNode[] = []
  try {
    const { b, c, producerId } = await relayChain(nodes)
    const at = epochNow()
    if (event === 'kill') b.signal('SIGKILL')
    else if (event === 'freeze') b.signal('SIGSTOP')
    else await b.request('drain', { timeoutMs: 10_000 })
    const { gapMs, resumedAfterMs } = await gapAfter(c, producerId, at, TARGETS[event] * 3)
    return { gapMs, backAfterMs: resumedAfterMs }
  } catch (err) {
    errors.add(0, `${event}: ${(err as Error).message}`)
    return { gapMs: NaN, backAfterMs: NaN }
  } finally {
    await stopProcesses(nodes)
  }
}

/**
 * A (fan-out 1) → B (fan-out 8) → 8 nodes (fan-out 2), all directly below B; B is killed.
 * The 8 repair at once from A: the storm the origin's fan-out and redirects must hold.
 */
async function subtreeRun (errors: ErrorLog): Promise<{ allBackMs: number, depth: number, originDownstream: number }> {
  const nodes: RemoteNode[] = []
  try {
    const all = await startNodes(nodes, SUBTREE_SIZE + 2, (i) => ({ fanout: i === 0 ? 1 : i === 1 ? SUBTREE_SIZE : 2 }))
    const [a, b, ...below] = all as [RemoteNode, RemoteNode, ...RemoteNode[]]
    const { producerId } = await a.request('createSource', { kind: 'video', packetsPerSecond: PPS })
    await a.request('startSource', { producerId })
    for (const node of [b, ...below]) await node.request('watch', { producerId })
    const routes = await Promise.all(below.map(async (n) => (await n.request('getDistribution', { producerId }))?.route ?? []))
    if (!routes.every((r) => r[1] === b.peerId)) errors.add(0, `subtree: not every node below B (${routes.map((r) => r.length).join(',')})`)
    const killedAt = epochNow()
    b.signal('SIGKILL')
    let allBackMs = 0
    for (const node of below) {
      await waitFor(async () => {
        const r = await node.request('watchReport', { producerId, since: killedAt })
        return largestGap(r.arrivals, killedAt, epochNow()).resumedAt !== undefined && r.arrivals.length >= 5
      }, { timeoutMs: 10_000, what: 'media again below the dead relay' })
      const r = await node.request('watchReport', { producerId, since: killedAt - 1000 })
      allBackMs = Math.max(allBackMs, (largestGap(r.arrivals, killedAt, epochNow()).resumedAt ?? NaN) - killedAt)
    }
    const after = await Promise.all(below.map(async (n) => (await n.request('getDistribution', { producerId }))?.route.length ?? 0))
    const originDownstream = (await a.request('getDistribution', { producerId }))?.downstream.length ?? NaN
    return { allBackMs, depth: Math.max(...after) - 1, originDownstream }
  } catch (err) {
    errors.add(0, `subtree: ${(err as Error).message}`)
    return { allBackMs: NaN, depth: NaN, originDownstream: NaN }
  } finally {
    await stopProcesses(nodes)
  }
}

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const rows = []
  for (const event of ['kill', 'freeze', 'drain'] as const) {
    const samples: Array<{ gapMs: number, backAfterMs: number }> = []
    for (let i = 0; i < RUNS; i++) samples.push(await oneRun(event, errors))
    const back = summary(samples.map((s) => s.backAfterMs).filter(Number.isFinite))
    const gap = summary(samples.map((s) => s.gapMs).filter(Number.isFinite))
    const worst = event === 'drain' ? gap.max : back.max
    rows.push({
      'relay B': { kill: 'SIGKILL (group)', freeze: 'SIGSTOP (group)', drain: 'node.drain()' }[event],
      runs: `${back.n}/${RUNS}`,
      'media back after, p50 ms': back.p50.toFixed(0),
      'max ms': back.max.toFixed(0),
      'gap p50 ms': gap.p50.toFixed(0),
      'gap max ms': gap.max.toFixed(0),
      target: `${event === 'drain' ? 'gap' : 'back after'} ≤ ${TARGETS[event]} ms`,
      met: back.n === RUNS && worst <= TARGETS[event] ? 'met' : 'missed'
    })
  }
  heading(`failover and drain, ${RUNS} runs each (new processes per run)`)
  console.log(formatTable(rows))
  const subtree = []
  for (let i = 0; i < SUBTREE_RUNS; i++) subtree.push(await subtreeRun(errors))
  const s = summary(subtree.map((x) => x.allBackMs).filter(Number.isFinite))
  heading(`a relay with ${SUBTREE_SIZE} nodes below it is killed; they all repair at once from the origin (fan-out 1) (${SUBTREE_RUNS} runs)`)
  console.log(formatTable([{
    'nodes below': SUBTREE_SIZE,
    'all media back, p50 ms': s.p50.toFixed(0),
    'max ms': s.max.toFixed(0),
    'origin downstream after': subtree.map((x) => x.originDownstream).join(', '),
    'new tree depth': subtree.map((x) => x.depth).join(', '),
    runs: `${s.n}/${SUBTREE_RUNS}`
  }]))
  errors.print('failover')
}

export const failover: Benchmark = { name: 'failover', title: 'media gap when a relay is killed, frozen or drained; repair of a subtree', run }
