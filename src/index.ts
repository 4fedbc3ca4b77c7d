// mediasoup-swarm public API.
import './platform/promise-with-resolvers.js'

export { createSwarmNode, SwarmNode } from './node/swarm-node.js'
export type { Distribution, PullTiming, PipeToRouterOptions, PipeToRouterResult, SwarmNodeEvents, ProtocolErrorCounts } from './node/swarm-node.js'
export type { SwarmNodeOptions, SwarmTimeouts } from './node/options.js'
export { DEFAULT_RELAY_CODECS, DEFAULT_TIMEOUTS } from './node/options.js'
export { DEFAULT_COSTS, POINTS_PER_WORKER } from './placement/capacity.js'
export type { ScalingCosts } from './placement/capacity.js'
export type { Load } from './protocol/messages.js'
export type { AddressPolicy } from './p2p/host.js'
export { createSwarmKey } from './p2p/swarm-key.js'
export { PROTOCOL_VERSION } from './protocol/messages.js'
export * from './errors.js'
