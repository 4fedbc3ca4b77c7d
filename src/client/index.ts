// mediasoup-swarm/client: the browser helper (docs/client-signalling.md, "Client helper").
// Needs mediasoup-client (a peer dependency); never loaded by the Node entry.
export { SwarmClient, SignallingRequestError } from './swarm-client.js'
export type { SwarmClientOptions, SwarmClientEvents, Publication, ConsumerCloseReason, PublishDataOptions } from './swarm-client.js'
export type { PublishOptions, ConsumerLayers, RoomProducerInfo } from './swarm-client.js'
