// The public shapes SwarmNode's methods take and return (docs/api.md).
import type { ProtocolErrorCode } from '../errors.js'
import type { Load, Request } from '../protocol/messages.js'
import type { types as ms } from 'mediasoup'

export interface PipeToRouterOptions {
  /** Id of a producer anywhere in the swarm. */
  producerId: string
  /** A router created with this node's createRouter(). */
  router: ms.Router
}

export interface PipeToRouterResult {
  /** The producer with that id in `router` (the original when it was already there). */
  pipeProducer: ms.Producer
}

export interface PipeDataToRouterOptions {
  /** Id of a data producer anywhere in the swarm (SCTP or direct). */
  dataProducerId: string
  /** A router created with this node's createRouter(). */
  router: ms.Router
}

export interface PipeDataToRouterResult {
  /** The data producer with that id in `router` (the original when it was already there). */
  pipeDataProducer: ms.DataProducer
}

/** How a producer this node has reaches it, and where it goes on to. */
export interface Distribution {
  producerId: string
  /** Peer id of the node where the producer was created. */
  origin: string
  /** The node this one receives it from; null on the origin and for local copies of it. */
  upstream: string | null
  /** Peer ids from the origin to this node, both included. */
  route: string[]
  /** Nodes this one sends it to. */
  downstream: string[]
  /** Last load each downstream node reported (scaling points), when known. */
  downstreamLoad: Record<string, Load>
  /** This node's load and capacity (scaling points). */
  load: number
  capacity: number
}

/** Pipe counts of a node. */
export interface PipeStats {
  /** Pipes sending to other nodes. */
  outgoingPipes: number
  /** Pipes receiving from other nodes. */
  incomingPipes: number
  /** Consumers on outgoing pipes (a producer sent to one node). */
  outgoingConsumers: number
  /** Copies received on incoming pipes. */
  incomingProducers: number
}

/**
 * One producer carried by a cross-node pipe, at this node's end (SwarmNode.pipeStreams()):
 * `in`, this node receives it from `peerId` (`producer` is the copy); `out`, this node sends
 * it to `peerId` (`consumer` sends it).
 */
export type PipeStream =
  | { direction: 'in', peerId: string, producerId: string, producer: ms.Producer }
  | { direction: 'out', peerId: string, producerId: string, consumer: ms.Consumer }

/** See SwarmNode.occupancy. */
export interface Occupancy {
  downstreamPipes: number
  /** Producers created here (not copies). */
  producers: number
  /** Consumers on transports other than pipes. */
  consumers: number
  empty: boolean
}

/** Counters of bad input received from the network, by error code. */
export type ProtocolErrorCounts = Partial<Record<ProtocolErrorCode, number>>

/** Counters of requests received from other nodes, by type (docs/protocol.md). */
export type RequestCounts = Partial<Record<Request['type'], number>>
