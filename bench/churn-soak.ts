import '../src/platform/promise-with-resolvers.js'
// A swarm under churn: 12 node processes, 3 of them origins of an audio source each, the
// other 9 watching all three (sinks consumed again on every restore). For 60 s, every few
// seconds one watcher is killed (SIGKILL of its process group) and restarted, drained and
// restarted, frozen for a while (SIGSTOP, then SIGCONT), or a new node joins. Then, after
// a settling time: does every watcher receive every stream, do the swarm's pipe and copy
// counts match what the watches need (nothing leaked, nothing missing), did any node
// process see an unhandled rejection, and how did the origins' heaps move.
import { formatTable, sleep } from '../test/harness/index.js'
import { epochNow, RemoteNode, stopProcesses } from '../test/harness/process-node.js'
import { PPS, startNodes } from '../test/harness/resilience.js'
import { ErrorLog, heading } from './common.js'
import type { Benchmark } from './common.js'
import type { NodeCounts } from '../test/harness/process-node.js'

const ORIGINS = 3
const WATCHERS = 9
const CHURN_MS = 60_000
const ACTION_EVERY_MS = 4000
const FROZEN_MS = 3000
const SETTLE_MS = 10_000
/** A stream counts as received when packets arrived in this last window. */
const RECEIVING_WINDOW_MS = 2000

type Action = 'kill' | 'drain' | 'freeze' | 'join'

async function run (): Promise<void> {
  const errors = new ErrorLog()
  const nodes: RemoteNode[] = []
  let spawned = 0
  const spawnWatcher = async (bootstrap: string[], producerIds: string[]): Promise<RemoteNode> => {
    const index = spawned++
    const node = await RemoteNode.spawn(index, (text) => errors.add(index, text))
    nodes.push(node)
    await node.start({ fanout: 2, bootstrap })
    for (const producerId of producerIds) await node.request('watch', { producerId })
    return node
  }
  try {
    const origins = await startNodes(nodes, ORIGINS, () => ({ fanout: 2 }))
    spawned = ORIGINS
    const producerIds: string[] = []
    for (const origin of origins) {
      const { producerId } = await origin.request('createSource', { kind: 'audio', packetsPerSecond: PPS })
      await origin.request('startSource', { producerId })
      producerIds.push(producerId)
    }
    const bootstrap = origins[0]!.multiaddrs
    let watchers: RemoteNode[] = []
    // Not `watchers.push(await …)`: that pushes onto the array of before the await, which a
    // kill or drain meanwhile may have replaced, and the new watcher would go uncounted.
    const addWatcher = (watcher: RemoteNode): void => { watchers = [...watchers, watcher] }
    for (let i = 0; i < WATCHERS; i++) addWatcher(await spawnWatcher(bootstrap, producerIds))
    const heapBefore = await Promise.all(origins.map(async (o) => (await o.request('counts', {})).heapUsedBytes))

    const done: Record<Action, number> = { kill: 0, drain: 0, freeze: 0, join: 0 }
    const actions: Action[] = ['kill', 'drain', 'freeze', 'join']
    const churnEnd = performance.now() + CHURN_MS
    const pending: Array<Promise<unknown>> = []
    // Caught at once: a failed restart or join is a finding to print, not a crash of the run.
    const later = (work: Promise<unknown>): void => { pending.push(work.catch((err: Error) => errors.add(0, `churn: ${err.message}`))) }
    for (let step = 0; performance.now() < churnEnd; step++) {
      const action = actions[step % actions.length]!
      const victim = watchers[Math.floor(Math.random() * watchers.length)]!
      done[action]++
      if (action === 'kill') {
        victim.signal('SIGKILL')
        watchers = watchers.filter((w) => w !== victim)
        later(sleep(1000).then(async () => { addWatcher(await spawnWatcher(bootstrap, producerIds)) }))
      } else if (action === 'drain') {
        watchers = watchers.filter((w) => w !== victim)
        later(victim.request('drain', { timeoutMs: 10_000 }).then(async () => {
          await victim.stop()
          addWatcher(await spawnWatcher(bootstrap, producerIds))
        }))
      } else if (action === 'freeze') {
        victim.signal('SIGSTOP')
        later(sleep(FROZEN_MS).then(() => victim.signal('SIGCONT')))
      } else {
        later(spawnWatcher(bootstrap, producerIds).then(addWatcher))
      }
      await sleep(ACTION_EVERY_MS)
    }
    await Promise.all(pending)
    await sleep(SETTLE_MS)

    // Every live watcher receives every stream.
    const now = epochNow()
    let receiving = 0
    let expected = 0
    const notReceiving: string[] = []
    for (const watcher of watchers) {
      for (const producerId of producerIds) {
        expected++
        const report = await watcher.request('watchReport', { producerId, since: now - RECEIVING_WINDOW_MS })
        if (report.arrivals.length >= PPS) receiving++
        else notReceiving.push(`node ${watcher.index}: ${report.arrivals.length} packets of ${producerId.slice(0, 8)}, upstream ${report.upstream ?? 'none'}, events ${JSON.stringify(report.events)}`)
      }
    }
    const counts: NodeCounts[] = await Promise.all([...origins, ...watchers].map(async (n) => await n.request('counts', {})))
    const sum = (pick: (c: NodeCounts) => number): number => counts.reduce((n, c) => n + pick(c), 0)
    const copies = sum((c) => c.pipes.incomingProducers)
    // Origins may hold copies too: a busy origin recruits relays among all nodes.
    const watcherCopies = counts.slice(origins.length).reduce((n, c) => n + c.pipes.incomingProducers, 0)
    const consumers = sum((c) => c.pipes.outgoingConsumers)
    const inPipes = sum((c) => c.pipes.incomingPipes)
    const outPipes = sum((c) => c.pipes.outgoingPipes)
    const unhandled = counts.flatMap((c) => c.errors)
    const heapAfter = await Promise.all(origins.map(async (o) => (await o.request('counts', {})).heapUsedBytes))
    const mb = (b: number): string => (b / 1024 / 1024).toFixed(1)

    heading(`churn for ${CHURN_MS / 1000} s: ${ORIGINS} origins, ${WATCHERS} watchers of every stream, an action every ${ACTION_EVERY_MS / 1000} s`)
    console.log(formatTable([{ kills: done.kill, 'drain + restart': done.drain, [`freezes (${FROZEN_MS / 1000} s)`]: done.freeze, joins: done.join, 'watchers at the end': watchers.length }]))
    heading(`after ${SETTLE_MS / 1000} s of settling`)
    console.log(formatTable([
      { check: 'watched streams receiving (≥ 1 s of packets in the last 2 s)', value: `${receiving}/${expected}`, expected: `${expected}/${expected}`, ok: receiving === expected ? 'yes' : 'NO' },
      { check: 'copies on the watchers (incoming producers)', value: watcherCopies, expected: watchers.length * producerIds.length, ok: watcherCopies === watchers.length * producerIds.length ? 'yes' : 'NO' },
      { check: 'consumers sending to other nodes = copies in the swarm', value: `${consumers} = ${copies}`, expected: 'equal', ok: consumers === copies ? 'yes' : 'NO' },
      { check: 'pipes: sending ends = receiving ends', value: `${outPipes} = ${inPipes}`, expected: 'equal', ok: outPipes === inPipes ? 'yes' : 'NO' },
      { check: 'unhandled rejections in the node processes', value: unhandled.length, expected: 0, ok: unhandled.length === 0 ? 'yes' : 'NO' },
      { check: 'origins\' heap before → after, MB', value: heapBefore.map((h, i) => `${mb(h)} → ${mb(heapAfter[i]!)}`).join(', '), expected: 'bounded', ok: heapAfter.every((h, i) => h < heapBefore[i]! * 2 + 16 * 1024 * 1024) ? 'yes' : 'NO' }
    ]))
    for (const line of notReceiving) console.log(`  not receiving: ${line}`)
    for (const line of unhandled) console.log(`  ${line}`)
    errors.print('churn')
  } finally {
    await stopProcesses(nodes)
  }
}

export const churnSoak: Benchmark = { name: 'churn-soak', title: '12 node processes under kills, drains, freezes and joins for 60 s; all sinks receive and counts return to baseline', run }
