// Run by package-install.test.ts with plain node in a folder where only the packed package
// is installed: the first steps of an application embedding the library.
import { createNodeMetrics, createSwarmNode } from 'mediasoup-swarm'

const node = await createSwarmNode()
const metrics = createNodeMetrics(node)
await node.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] })
const text = await metrics.registry.metrics()
if (!text.includes(`mediasoup_swarm_info{peer_id="${node.peerId}"`)) throw new Error(`no mediasoup_swarm_info of this node in its metrics:\n${text}`)
console.log(`peer ${node.peerId}`)
metrics.close()
await node.stop()
// No process.exit(): the process must end by itself once the node has stopped.
