// A JSON-able snapshot of what a node is, whom it is connected to and what it forwards:
// served as /status by the binary and drawn by its status page. Knows nothing about HTTP.
import { roundTo } from './media-quality.js'
import type { PipeQuality } from './media-sampler.js'
import type { MediaTracker } from './media-tracker.js'
import type { Distribution, Occupancy, ProducerTree, SwarmNode } from '../node/swarm-node.js'

export interface PeerStatus {
  peerId: string
  /** The name it told (libp2p identify); null when it told none yet. */
  name: string | null
  /** Round-trip time measured by libp2p's ping (the lowest of the last pings), in ms to 0.1; null until measured. */
  rttMs: number | null
  /** Remote addresses of the open connections to it. */
  addresses: string[]
}

export interface ProducerStatus extends Distribution {
  kind: 'audio' | 'video' | null
  paused: boolean | null
  /** Consumers of it on this node's own transports (not pipes to other nodes); null without a MediaTracker. */
  localConsumers: number | null
  /** The whole tree from the origin (SwarmNode.producerTree()), when StatusOptions.trees has it. */
  tree?: ProducerTree
}

export interface NodeStatus {
  peerId: string
  /** The node's `name`. */
  name: string
  /** What other nodes can bootstrap from (with /p2p/<peerId>). */
  multiaddrs: string[]
  version: string | null
  uptimeSeconds: number | null
  peers: PeerStatus[]
  /** Scaling points. */
  load: number
  capacity: number
  spare: number
  pipes: SwarmNode['pipeStats']
  /** node.drain() was called: the node takes no new pulls. */
  draining: boolean
  /** What keeps the node from being removed; `empty`: nothing (an autoscaler may remove it). */
  occupancy: Occupancy
  producers: ProducerStatus[]
  /** Media quality of the pipes from the last sampling round (null and empty without a MediaTracker or before its first round). */
  media: { sampledAt: number | null, pipes: PipeQuality[] }
}

export interface StatusOptions {
  /** Adds local consumer counts and media quality. */
  media?: MediaTracker
  version?: string
  /** `performance.now()` when the node started. */
  startedAt?: number
  /** Trees gathered of this node's producers, by producer id. */
  trees?: ReadonlyMap<string, ProducerTree>
}

export function nodeStatus (node: SwarmNode, options: StatusOptions = {}): NodeStatus {
  const rtts = node.rtts()
  const names = node.peerNames()
  const peerStatus = (peerId: string): PeerStatus => ({ peerId, name: names[peerId] ?? null, rttMs: roundTo(rtts[peerId] ?? null, 1), addresses: [] })
  const peers = new Map<string, PeerStatus>(node.peers.map((peerId) => [peerId, peerStatus(peerId)]))
  for (const connection of node.libp2p.getConnections()) {
    const peerId = connection.remotePeer.toString()
    const peer = peers.get(peerId) ?? peerStatus(peerId)
    peers.set(peerId, peer)
    peer.addresses.push(connection.remoteAddr.toString())
  }
  const producersById = new Map<string, { kind: 'audio' | 'video', paused: boolean }>()
  for (const router of node.routers()) for (const p of node.producersIn(router)) producersById.set(p.id, p)
  const producers: ProducerStatus[] = []
  for (const producerId of node.producerIds()) {
    const distribution = node.getDistribution(producerId)
    if (distribution === undefined) continue
    const producer = producersById.get(producerId)
    const tree = options.trees?.get(producerId)
    producers.push({
      ...distribution,
      kind: producer?.kind ?? null,
      paused: producer?.paused ?? null,
      localConsumers: options.media?.localConsumersOf(producerId) ?? null,
      ...(tree === undefined ? {} : { tree })
    })
  }
  const { load, capacity, spare } = node.capacity
  const quality = options.media?.quality
  return {
    peerId: node.peerId,
    name: node.name,
    multiaddrs: node.multiaddrs,
    version: options.version ?? null,
    uptimeSeconds: options.startedAt === undefined ? null : Math.round((performance.now() - options.startedAt) / 1000),
    // Code-unit order: localeCompare would load ICU's collation data (≈ 3 MB resident).
    peers: [...peers.values()].sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0),
    load,
    capacity,
    spare,
    pipes: node.pipeStats,
    draining: node.draining,
    occupancy: node.occupancy,
    producers,
    media: { sampledAt: quality?.sampledAt ?? null, pipes: quality?.pipes ?? [] }
  }
}
