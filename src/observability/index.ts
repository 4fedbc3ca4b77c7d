// Metrics and status of a node for an application to serve itself (docs/metrics.md); the
// binary serves them on /metrics and /status.
export { createNodeMetrics, STATS_TIMEOUT_MS } from './metrics.js'
export type { NodeMetrics, NodeMetricsOptions, SignallingStats } from './metrics.js'
export { nodeStatus } from './status.js'
export type { NodeStatus, PeerStatus, ProducerStatus, StatusOptions } from './status.js'
export { MediaTracker, MEDIA_SAMPLE_TIMEOUT_MS } from './media-tracker.js'
export type { ByTransportKind, MediaTrackerOptions, Traffic, TransportKind, WebRtcFailures } from './media-tracker.js'
export { MEDIA_SAMPLE_PERIOD_MS } from './media-sampler.js'
export type { KindFigures, MediaSample, PipeFigures, PipeQuality, StreamRole } from './media-sampler.js'
export type { QualityFigures, RtpCounts } from './media-quality.js'
export { MAX_TREES, ProducerTrees, TREE_MAX_AGE_MS } from './producer-trees.js'
