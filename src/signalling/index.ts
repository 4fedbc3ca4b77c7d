// Client-facing signalling for browsers using mediasoup-client (docs/client-signalling.md).
export {
  createClientSignalling, ClientSignalling, DEFAULT_RESTORE_TIMEOUT_MS,
  CLOSE_UNAUTHORIZED, CLOSE_ROUTER_CLOSED, CLOSE_GOING_AWAY
} from './client-signalling.js'
export type { ClientSignallingOptions } from './client-signalling.js'
export type { ClientContext, RouterSelector, ResolvedProducer, ResolvedDataProducer } from './client-session.js'
export { DEFAULT_LIMITS, REFUSAL_REASONS, CLOSE_FORBIDDEN_ORIGIN, CLOSE_TOO_MANY_CONNECTIONS } from './client-limits.js'
export type { ClientSignallingLimits, RefusalReason } from './client-limits.js'
export { ROOM_KEY } from './grants.js'
export { copyEventsOf } from './copy-events.js'
export type { CopyEvent, CopyEventSource } from './copy-events.js'
export type { RoomSource } from './room-source.js'
export { MAX_ROOMS_PER_CONNECTION } from './client-session.js'
export { createClientToken, verifyClientToken, CLIENT_ACTIONS, MIN_SECRET_LENGTH } from './token.js'
export type { ClientAction, ClientGrants, ClientTokenClaims, CreateClientTokenOptions, TokenCheck } from './token.js'
export { CLIENT_METHODS, DEFAULT_MAX_MESSAGE_BYTES, SignallingError, decodeClientRequest } from './messages.js'
export type {
  ClientMethod, ClientRequest, RequestId, RequestDataMap, ResponseDataMap, Reply, OkReply, ErrorReply,
  Notification, ConsumerClosedNotification, ConsumerRestoredNotification, NodeDrainingNotification, ConsumerCloseReason,
  ConsumerInfo, SignallingErrorName, TransportDirection, TransportInfo, ProducerInfo,
  DataConsumerInfo, DataConsumerClosedNotification,
  ConsumerLayersChangedNotification, NewProducerNotification, ProducerClosedNotification
} from './messages.js'
