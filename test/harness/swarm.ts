// Starts real swarm nodes on 127.0.0.1 for tests and benchmarks.
import { multiaddr } from '@multiformats/multiaddr'
import { createSwarmNode } from '../../src/index.js'
import type { SwarmNode, SwarmNodeOptions } from '../../src/index.js'

export { mediaCodecs } from './rtp-source.js'

/** Starts `count` nodes in a bootstrap chain: node i bootstraps from node i-1 only. */
export async function startChain (count: number, options: SwarmNodeOptions = {}): Promise<SwarmNode[]> {
  const nodes: SwarmNode[] = []
  try {
    for (let i = 0; i < count; i++) {
      const bootstrap = i === 0 ? [] : nodes[i - 1]!.multiaddrs
      nodes.push(await createSwarmNode({ ...options, bootstrap }))
    }
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
  return nodes
}

/**
 * Waits until every node is connected to `minPeers` others (default: two, or all of a
 * smaller swarm). Nodes connect to part of the swarm through the DHT, which is enough:
 * lookups walk the DHT and providers are dialled on demand.
 */
export async function waitConnected (nodes: SwarmNode[], timeoutMs = 5000, minPeers = Math.min(2, nodes.length - 1)): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!nodes.every((n) => n.peers.length >= minPeers)) {
    if (Date.now() > deadline) throw new Error(`swarm not connected after ${timeoutMs} ms: ${nodes.map((n) => n.peers.length).join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * Connects every node to every other and waits until each sees all the others: a test
 * whose records or views depend on who is connected to whom then does not depend on the
 * connections the DHT happened to open (a connection opened later hands over records).
 */
export async function connectAll (nodes: SwarmNode[], timeoutMs = 10_000): Promise<void> {
  for (const a of nodes) for (const b of nodes) if (a !== b) await a.libp2p.dial(multiaddr(b.multiaddrs[0]!))
  await waitConnected(nodes, timeoutMs, nodes.length - 1)
}

export async function stopAll (nodes: SwarmNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => await n.stop()))
}
