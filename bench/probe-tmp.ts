import '../src/platform/promise-with-resolvers.js'
import { RemoteNode, stopProcesses } from '../test/harness/process-node.js'
import { PPS, startNodes } from '../test/harness/resilience.js'
import { sleep } from '../test/harness/index.js'
const nodes: RemoteNode[] = []
let idx = 100
async function watcher (bootstrap: string[], ids: string[], env = {}): Promise<RemoteNode> {
  const n = await RemoteNode.spawn(idx++, (t) => console.log('err', t), { env })
  nodes.push(n)
  await n.start({ fanout: 2, bootstrap })
  const t0 = performance.now()
  for (const id of ids) {
    try { await n.request('watch', { producerId: id }) } catch (e) { console.log('watch failed', (e as Error).message, (performance.now()-t0).toFixed(0)); throw e }
  }
  console.log('watcher', n.index, 'ok in', (performance.now()-t0).toFixed(0), 'ms')
  return n
}
try {
  const origins = await startNodes(nodes, 3, () => ({ fanout: 2 }))
  const ids: string[] = []
  for (const o of origins) { const { producerId } = await o.request('createSource', { kind: 'audio', packetsPerSecond: PPS }); await o.request('startSource', { producerId }); ids.push(producerId) }
  const ws: RemoteNode[] = []
  for (let i = 0; i < 9; i++) ws.push(await watcher(origins[0]!.multiaddrs, ids, i === 7 ? { DEBUG: 'mediasoup-swarm:*,-mediasoup-swarm:*:trace' } : {}))
  for (let round = 0; round < 5; round++) {
    ws[round]!.signal('SIGKILL')
    await sleep(1000)
    ws.push(await watcher(origins[0]!.multiaddrs, ids))
  }
} catch (e) { console.log('FAILED', (e as Error).message) } finally { await stopProcesses(nodes) }
