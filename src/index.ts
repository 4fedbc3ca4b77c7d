// mediasoup-swarm public API.
import './platform/promise-with-resolvers.js'

export { createSwarmNode, SwarmNode } from './node/swarm-node.js'
export type {
  Distribution, PullTiming, PipeStats, PipeStream, PipeToRouterOptions, PipeToRouterResult, PipeDataToRouterOptions, PipeDataToRouterResult, SwarmNodeEvents, ProtocolErrorCounts, RequestCounts,
  DrainOptions, DrainResult, ProducerRestored, DataProducerRestored, RestoreFailed, CopyCloseReason, Occupancy,
  HealthCheck, HealthCheckName, HealthReport, ReadinessCheckName,
  TreePipeFigures, ProducerTree, TreeBounds, TreeEdge, TreeNode,
  ProviderPenalty, PenaltyReason
} from './node/swarm-node.js'
export type { RoomEvent, RoomWatch } from './node/swarm-node.js'
export { MAX_WATCHED_ROOMS } from './node/rooms/rooms.js'
export type { RoomProducer } from './protocol/messages.js'
export type { ConnectionLimits, PeerLimits, PeerRefusal, SwarmNodeOptions, SwarmTimeouts } from './node/options.js'
export type { RefusalReason } from './p2p/peer-gate.js'
export { REFUSAL_REASONS } from './p2p/peer-gate.js'
export { DEFAULTS, DEFAULT_RELAY_CODECS, DEFAULT_TIMEOUTS } from './node/options.js'
export { createLogger, enableLogLevel, namespacesFor, LOG_LEVELS } from './logger.js'
export type { Logger, LogLevel } from './logger.js'
export { DEFAULT_COSTS, POINTS_PER_WORKER } from './placement/capacity.js'
export type { ScalingCosts } from './placement/capacity.js'
export type { Load } from './protocol/messages.js'
export type { AddressPolicy } from './p2p/host.js'
export { createSwarmKey } from './p2p/swarm-key.js'
export { PROTOCOL_VERSION } from './protocol/messages.js'
export * from './errors.js'
export * from './signalling/index.js'
export * from './observability/index.js'
