// Metrics and status of a node for an application to serve itself (docs/metrics.md); the
// binary serves them on /metrics and /status.
export { createNodeMetrics, STATS_TIMEOUT_MS } from './metrics.js'
export type { NodeMetrics, NodeMetricsOptions, SignallingStats } from './metrics.js'
export { nodeStatus } from './status.js'
export type { NodeStatus, PeerStatus, ProducerStatus, StatusOptions } from './status.js'
export { MediaTracker } from './media-tracker.js'
export type { ByTransportKind, Traffic, TransportKind } from './media-tracker.js'
export { MAX_TREES, ProducerTrees, TREE_MAX_AGE_MS } from './producer-trees.js'
