// Client-facing signalling for browsers using mediasoup-client (docs/client-signalling.md).
export {
  createClientSignalling, ClientSignalling, DEFAULT_LIMITS, DEFAULT_RESTORE_TIMEOUT_MS,
  CLOSE_UNAUTHORIZED, CLOSE_ROUTER_CLOSED, CLOSE_GOING_AWAY
} from './client-signalling.js'
export type { ClientSignallingOptions, ClientSignallingLimits, ClientContext, RouterSelector } from './client-signalling.js'
export { copyEventsOf } from './copy-events.js'
export type { CopyEvent, CopyEventSource } from './copy-events.js'
export { createClientToken, verifyClientToken, CLIENT_ACTIONS } from './token.js'
export type { ClientAction, ClientTokenClaims, CreateClientTokenOptions, TokenCheck } from './token.js'
export { CLIENT_METHODS, DEFAULT_MAX_MESSAGE_BYTES, SignallingError, decodeClientRequest } from './messages.js'
export type {
  ClientMethod, ClientRequest, RequestId, RequestDataMap, ResponseDataMap, Reply, OkReply, ErrorReply,
  Notification, ConsumerClosedNotification, ConsumerRestoredNotification, NodeDrainingNotification, ConsumerCloseReason,
  ConsumerInfo, SignallingErrorName, TransportDirection, TransportInfo, ProducerInfo
} from './messages.js'
