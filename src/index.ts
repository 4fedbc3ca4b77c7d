// mediasoup-swarm public API.
import './platform/promise-with-resolvers.js'

export { createSwarmNode, SwarmNode } from './node/swarm-node.js'
export type { PipeToRouterOptions, PipeToRouterResult, SwarmNodeEvents, ProtocolErrorCounts } from './node/swarm-node.js'
export type { SwarmNodeOptions, SwarmTimeouts } from './node/options.js'
export { DEFAULT_TIMEOUTS } from './node/options.js'
export type { AddressPolicy } from './p2p/host.js'
export { createSwarmKey } from './p2p/swarm-key.js'
export { PROTOCOL_VERSION } from './protocol/messages.js'
export * from './errors.js'
