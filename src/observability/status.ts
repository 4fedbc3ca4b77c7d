// A JSON-able snapshot of what a node is and forwards: served as /status by the binary and
// drawn by its status page. Knows nothing about HTTP.
import type { Distribution, SwarmNode } from '../index.js'

export interface PeerStatus {
  peerId: string
  /** Round-trip time measured by libp2p's ping, when known. */
  rttMs: number | null
}

export interface ProducerStatus extends Distribution {
  kind: 'audio' | 'video' | null
  paused: boolean | null
}

export interface NodeStatus {
  peerId: string
  multiaddrs: string[]
  peers: PeerStatus[]
  load: number
  capacity: number
  pipes: SwarmNode['pipeStats']
  producers: ProducerStatus[]
}

export function nodeStatus (node: SwarmNode): NodeStatus {
  const rtts = new Map<string, number>()
  for (const connection of node.libp2p.getConnections()) {
    if (connection.rtt !== undefined) rtts.set(connection.remotePeer.toString(), connection.rtt)
  }
  const producers: ProducerStatus[] = []
  for (const producerId of node.producerIds()) {
    const distribution = node.getDistribution(producerId)
    if (distribution === undefined) continue
    const producer = node.routers().flatMap((r) => node.producersIn(r)).find((p) => p.id === producerId)
    producers.push({ ...distribution, kind: producer?.kind ?? null, paused: producer?.paused ?? null })
  }
  const { load, capacity } = node.capacity
  return {
    peerId: node.peerId,
    multiaddrs: node.multiaddrs,
    peers: node.peers.map((peerId) => ({ peerId, rttMs: rtts.get(peerId) ?? null })),
    load,
    capacity,
    pipes: node.pipeStats,
    producers
  }
}
