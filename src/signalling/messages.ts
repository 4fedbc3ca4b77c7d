// Client-facing signalling messages (docs/client-signalling.md): what a browser running
// mediasoup-client sends over its WebSocket and what it gets back. Everything received is
// checked here before any other code sees it; a message that fails gets an error reply
// with a SignallingErrorName, never a crash. Deep checks of RTP parameters and
// capabilities are left to mediasoup, whose TypeErrors become BadRequest replies.
import type { types as ms } from 'mediasoup'
import { SwarmError } from '../errors.js'

/** Largest text message accepted by default (bytes); a video producer's rtpParameters take ~2 KiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

/** A client's request id: echoed in the reply. A number, or a string of 1-64 characters. */
export type RequestId = number | string

export type TransportDirection = 'send' | 'recv'

/** What each method takes (`data` of the request). */
export interface RequestDataMap {
  getRouterRtpCapabilities: Record<string, never>
  /** With `sctpCapabilities` (mediasoup-client's `device.sctpCapabilities`), the transport can carry data channels. */
  createWebRtcTransport: { direction: TransportDirection, sctpCapabilities?: ms.SctpCapabilities }
  connectWebRtcTransport: { transportId: string, dtlsParameters: ms.DtlsParameters }
  produce: { transportId: string, kind: ms.MediaKind, rtpParameters: ms.RtpParameters, appData: Record<string, unknown> }
  consume: { transportId: string, producerId: string, rtpCapabilities: ms.RtpCapabilities }
  pauseConsumer: { consumerId: string }
  resumeConsumer: { consumerId: string }
  closeConsumer: { consumerId: string }
  requestKeyFrame: { consumerId: string }
  pauseProducer: { producerId: string }
  resumeProducer: { producerId: string }
  closeProducer: { producerId: string }
  /** Without `room`: this connection's producers; with it: the room's, swarm-wide (and subscribes to its changes). */
  listProducers: { room?: string }
  setConsumerPreferredLayers: { consumerId: string, spatialLayer: number, temporalLayer?: number }
  setConsumerPriority: { consumerId: string, priority: number }
  produceData: { transportId: string, sctpStreamParameters: ms.SctpStreamParameters, label: string, protocol: string, appData: Record<string, unknown> }
  consumeData: { transportId: string, dataProducerId: string }
  closeDataProducer: { dataProducerId: string }
  closeDataConsumer: { dataConsumerId: string }
}

export interface TransportInfo {
  id: string
  iceParameters: ms.IceParameters
  iceCandidates: ms.IceCandidate[]
  dtlsParameters: ms.DtlsParameters
  /** Present when the transport was created with `sctpCapabilities`. */
  sctpParameters?: ms.SctpParameters
}

/** What `consumeData` answers: the browser's side of the data consumer (mediasoup-client's transport.consumeData()). */
export interface DataConsumerInfo {
  id: string
  dataProducerId: string
  sctpStreamParameters: ms.SctpStreamParameters
  label: string
  protocol: string
}

export interface ProducerInfo {
  id: string
  kind: ms.MediaKind
  paused: boolean
  appData: Record<string, unknown>
}

/** What each method answers (`data` of an ok reply). */
export interface ResponseDataMap {
  getRouterRtpCapabilities: ms.RtpCapabilities
  createWebRtcTransport: TransportInfo
  connectWebRtcTransport: Record<string, never>
  produce: { id: string }
  consume: { id: string, producerId: string, kind: ms.MediaKind, rtpParameters: ms.RtpParameters }
  pauseConsumer: Record<string, never>
  resumeConsumer: Record<string, never>
  closeConsumer: Record<string, never>
  requestKeyFrame: Record<string, never>
  pauseProducer: Record<string, never>
  resumeProducer: Record<string, never>
  closeProducer: Record<string, never>
  listProducers: { producers: ProducerInfo[] }
  produceData: { id: string }
  consumeData: DataConsumerInfo
  closeDataProducer: Record<string, never>
  closeDataConsumer: Record<string, never>
  setConsumerPreferredLayers: Record<string, never>
  setConsumerPriority: Record<string, never>
}

export type ClientMethod = keyof RequestDataMap

export const CLIENT_METHODS: readonly ClientMethod[] = [
  'getRouterRtpCapabilities', 'createWebRtcTransport', 'connectWebRtcTransport', 'produce', 'consume',
  'pauseConsumer', 'resumeConsumer', 'closeConsumer', 'requestKeyFrame',
  'pauseProducer', 'resumeProducer', 'closeProducer', 'listProducers',
  'produceData', 'consumeData', 'closeDataProducer', 'closeDataConsumer',
  'setConsumerPreferredLayers', 'setConsumerPriority'
]

/** A validated request, discriminated on `method`. */
export type ClientRequest = { [M in ClientMethod]: { id: RequestId, method: M, data: RequestDataMap[M] } }[ClientMethod]

/**
 * Names of error replies (`error.name`). Clients branch on these, never on message text.
 * - BadRequest: not JSON, wrong shape or field types, or parameters mediasoup rejects.
 * - TooLarge: the message exceeds the size limit.
 * - UnknownMethod: `method` is not one of CLIENT_METHODS.
 * - NotFound: the transport, producer or consumer id is unknown (to this connection, or
 *   for a producer to consume: to the router and to resolveProducer; for a data producer:
 *   to the router and to resolveDataProducer).
 * - Forbidden: the connection's token does not allow this action (or, with a room grant,
 *   this producer).
 * - LimitExceeded: too many transports, producers, consumers, pending requests, or
 *   lookups of producers not in the node (docs/client-signalling.md#limits).
 * - RateLimited: the connection sends requests faster than its limit; slow down.
 * - CannotConsume: the client's rtpCapabilities cannot receive the producer.
 * - Unavailable: resolveProducer failed for another reason than "not found".
 * - MediaError: mediasoup refused the operation (state, worker error).
 */
export type SignallingErrorName =
  'BadRequest' | 'TooLarge' | 'UnknownMethod' | 'NotFound' | 'Forbidden' | 'LimitExceeded' | 'RateLimited' |
  'CannotConsume' | 'Unavailable' | 'MediaError'

export interface OkReply<M extends ClientMethod = ClientMethod> { id: RequestId, ok: true, data: ResponseDataMap[M] }
/** `id` is null when the request was too broken to carry a usable id. */
export interface ErrorReply { id: RequestId | null, ok: false, error: { name: SignallingErrorName, message: string } }
export type Reply = OkReply | ErrorReply

/**
 * Why a consumer closed without the client asking:
 * - `producerclosed`: the producer closed (by its publisher, at its origin node), or a
 *   copy of it whose path broke could not be restored; final
 * - `upstreamlost`: the path bringing the producer from another node broke; it is being
 *   restored: `consumerRestored` (same consumer, new id) or `consumerClosed` with
 *   `producerclosed` follows
 * - `moving`: the copy moves off a draining relay node; `consumerRestored` follows at once
 *   (or `consumerClosed` with `producerclosed`)
 * - `released`: this node's application closed its copy of the producer (the producer may
 *   live on: consuming it again may work)
 * - `nodestopping`: this node is stopping; connect to another one
 */
export type ConsumerCloseReason = 'producerclosed' | 'upstreamlost' | 'moving' | 'released' | 'nodestopping'

/** Reasons after which the signalling re-creates the consumer once the producer is back. */
export const RESTORING_REASONS: ReadonlySet<ConsumerCloseReason> = new Set(['upstreamlost', 'moving'])

/** Sent when a consumer closes without the client asking (its producer closed or went away). */
export interface ConsumerClosedNotification {
  notification: 'consumerClosed'
  data: { consumerId: string, producerId: string, reason: ConsumerCloseReason }
}

/** What `consume` answers, and what a restored consumer is described with. */
export type ConsumerInfo = ResponseDataMap['consume']

/**
 * A consumer closed with `upstreamlost` or `moving` was re-created (paused, on the same
 * transport, with the same rtpCapabilities) now that its producer is back in the router:
 * consume it as after `consume`, resume it, close the old one.
 */
export interface ConsumerRestoredNotification {
  notification: 'consumerRestored'
  data: { oldConsumerId: string, consumer: ConsumerInfo }
}

/** This node is draining (going out of service): connect to another node and move there. */
export interface NodeDrainingNotification { notification: 'nodeDraining', data: Record<string, never> }

/**
 * Sent when a data consumer closes without the client asking: its data producer closed (at
 * its origin), or the path bringing it from another node broke. Data consumers are not
 * re-created: `consumeData` again (NotFound: the data producer is gone).
 */
export interface DataConsumerClosedNotification {
  notification: 'dataConsumerClosed'
  data: { dataConsumerId: string, dataProducerId: string }
}

/** A simulcast or SVC consumer's layers changed (mediasoup's `layerschange`); null: no layer is sent. */
export interface ConsumerLayersChangedNotification {
  notification: 'consumerLayersChanged'
  data: { consumerId: string, layers: { spatialLayer: number, temporalLayer?: number } | null }
}

/** A producer of a room this connection listed appeared, on any node of the swarm. */
export interface NewProducerNotification { notification: 'newProducer', data: { room: string, producer: ProducerInfo } }

/** A producer of a room this connection listed closed (or its node left the swarm). */
export interface ProducerClosedNotification { notification: 'producerClosed', data: { room: string, producerId: string } }

export type Notification = ConsumerClosedNotification | ConsumerRestoredNotification | NodeDrainingNotification | DataConsumerClosedNotification |
  ConsumerLayersChangedNotification | NewProducerNotification | ProducerClosedNotification

/** An error to send back to the client; `requestId` is the id of the request it answers. */
export class SignallingError extends SwarmError {
  constructor (readonly code: SignallingErrorName, message: string, readonly requestId: RequestId | null = null) {
    super(message)
  }
}

type Json = Record<string, unknown>

function bad (message: string): never {
  throw new SignallingError('BadRequest', message)
}

function object (value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`${what} must be an object`)
  return value as Json
}

/** mediasoup ids are UUIDs; the same character set as the node-to-node protocol. */
function id (value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128 || !/^[\w.:-]+$/.test(value)) {
    bad(`${what} must be an id string (1-128 of [A-Za-z0-9_.:-])`)
  }
  return value
}

function requestId (value: unknown): RequestId | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value
  if (typeof value === 'string' && value.length > 0 && value.length <= 64) return value
  return null
}

function array (value: unknown, what: string, max: number, nonEmpty: boolean): unknown[] {
  if (!Array.isArray(value)) bad(`${what} must be an array`)
  if (nonEmpty && value.length === 0) bad(`${what} must not be empty`)
  if (value.length > max) bad(`${what} has more than ${max} entries`)
  return value
}

function kind (value: unknown): ms.MediaKind {
  if (value !== 'audio' && value !== 'video') bad('kind must be "audio" or "video"')
  return value
}

const DTLS_ROLES = new Set(['auto', 'client', 'server'])
const FINGERPRINT_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'])

function dtlsParameters (value: unknown): ms.DtlsParameters {
  const p = object(value, 'dtlsParameters')
  if (p.role !== undefined && (typeof p.role !== 'string' || !DTLS_ROLES.has(p.role))) bad('dtlsParameters.role must be auto, client or server')
  const fingerprints = array(p.fingerprints, 'dtlsParameters.fingerprints', 8, true).map((f, i) => {
    const fp = object(f, `dtlsParameters.fingerprints[${i}]`)
    if (typeof fp.algorithm !== 'string' || !FINGERPRINT_ALGORITHMS.has(fp.algorithm)) bad(`dtlsParameters.fingerprints[${i}].algorithm is not a known hash`)
    if (typeof fp.value !== 'string' || !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/.test(fp.value)) bad(`dtlsParameters.fingerprints[${i}].value must be colon-separated hex`)
    return { algorithm: fp.algorithm as ms.FingerprintAlgorithm, value: fp.value }
  })
  return p.role === undefined ? { fingerprints } : { role: p.role as ms.DtlsRole, fingerprints }
}

function rtpParameters (value: unknown): ms.RtpParameters {
  const p = object(value, 'rtpParameters')
  array(p.codecs, 'rtpParameters.codecs', 32, true).forEach((c, i) => object(c, `rtpParameters.codecs[${i}]`))
  if (p.encodings !== undefined) array(p.encodings, 'rtpParameters.encodings', 16, false).forEach((e, i) => object(e, `rtpParameters.encodings[${i}]`))
  if (p.headerExtensions !== undefined) array(p.headerExtensions, 'rtpParameters.headerExtensions', 32, false)
  return p as unknown as ms.RtpParameters
}

function rtpCapabilities (value: unknown): ms.RtpCapabilities {
  const c = object(value, 'rtpCapabilities')
  if (c.codecs !== undefined) array(c.codecs, 'rtpCapabilities.codecs', 128, false).forEach((x, i) => object(x, `rtpCapabilities.codecs[${i}]`))
  if (c.headerExtensions !== undefined) array(c.headerExtensions, 'rtpCapabilities.headerExtensions', 64, false)
  return c as ms.RtpCapabilities
}

/** SCTP stream ids are 16-bit; so are the reliability limits mediasoup takes. */
const MAX_UINT16 = 65535
/** Longest data channel label or protocol accepted, in characters. */
const MAX_DATA_LABEL = 1024

function uint16 (value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_UINT16) bad(`${what} must be an integer 0-${MAX_UINT16}`)
  return value as number
}

function sctpCapabilities (value: unknown): ms.SctpCapabilities {
  const numStreams = object(object(value, 'sctpCapabilities').numStreams, 'sctpCapabilities.numStreams')
  return { numStreams: { OS: uint16(numStreams.OS, 'sctpCapabilities.numStreams.OS'), MIS: uint16(numStreams.MIS, 'sctpCapabilities.numStreams.MIS') } }
}

function sctpStreamParameters (value: unknown): ms.SctpStreamParameters {
  const p = object(value, 'sctpStreamParameters')
  if (p.ordered !== undefined && typeof p.ordered !== 'boolean') bad('sctpStreamParameters.ordered must be a boolean')
  return {
    streamId: uint16(p.streamId, 'sctpStreamParameters.streamId'),
    ...(p.ordered === undefined ? {} : { ordered: p.ordered }),
    ...(p.maxPacketLifeTime === undefined ? {} : { maxPacketLifeTime: uint16(p.maxPacketLifeTime, 'sctpStreamParameters.maxPacketLifeTime') }),
    ...(p.maxRetransmits === undefined ? {} : { maxRetransmits: uint16(p.maxRetransmits, 'sctpStreamParameters.maxRetransmits') })
  }
}

function label (value: unknown, what: string): string {
  if (value === undefined) return ''
  if (typeof value !== 'string' || value.length > MAX_DATA_LABEL) bad(`${what} must be a string of at most ${MAX_DATA_LABEL} characters`)
  return value
}

const empty = (): Record<string, never> => ({})

/** Longest room name (characters), as in a token's room grant. */
export const MAX_ROOM_LENGTH = 128

function room (value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ROOM_LENGTH) bad(`room must be a string of 1-${MAX_ROOM_LENGTH} characters`)
  return value
}

/** Spatial and temporal layers are small indexes (mediasoup: at most 16 encodings or layers). */
function layer (value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 15) bad(`${what} must be an integer 0-15`)
  return value as number
}

const decoders: { [M in ClientMethod]: (d: Json) => RequestDataMap[M] } = {
  getRouterRtpCapabilities: empty,
  createWebRtcTransport: (d) => {
    if (d.direction !== 'send' && d.direction !== 'recv') bad('direction must be "send" or "recv"')
    return d.sctpCapabilities === undefined ? { direction: d.direction } : { direction: d.direction, sctpCapabilities: sctpCapabilities(d.sctpCapabilities) }
  },
  connectWebRtcTransport: (d) => ({ transportId: id(d.transportId, 'transportId'), dtlsParameters: dtlsParameters(d.dtlsParameters) }),
  produce: (d) => ({
    transportId: id(d.transportId, 'transportId'),
    kind: kind(d.kind),
    rtpParameters: rtpParameters(d.rtpParameters),
    appData: d.appData === undefined ? {} : object(d.appData, 'appData')
  }),
  consume: (d) => ({ transportId: id(d.transportId, 'transportId'), producerId: id(d.producerId, 'producerId'), rtpCapabilities: rtpCapabilities(d.rtpCapabilities) }),
  pauseConsumer: (d) => ({ consumerId: id(d.consumerId, 'consumerId') }),
  resumeConsumer: (d) => ({ consumerId: id(d.consumerId, 'consumerId') }),
  closeConsumer: (d) => ({ consumerId: id(d.consumerId, 'consumerId') }),
  requestKeyFrame: (d) => ({ consumerId: id(d.consumerId, 'consumerId') }),
  pauseProducer: (d) => ({ producerId: id(d.producerId, 'producerId') }),
  resumeProducer: (d) => ({ producerId: id(d.producerId, 'producerId') }),
  closeProducer: (d) => ({ producerId: id(d.producerId, 'producerId') }),
  listProducers: (d) => d.room === undefined ? {} : { room: room(d.room) },
  setConsumerPreferredLayers: (d) => ({
    consumerId: id(d.consumerId, 'consumerId'),
    spatialLayer: layer(d.spatialLayer, 'spatialLayer'),
    ...(d.temporalLayer === undefined ? {} : { temporalLayer: layer(d.temporalLayer, 'temporalLayer') })
  }),
  setConsumerPriority: (d) => {
    if (!Number.isInteger(d.priority) || (d.priority as number) < 1 || (d.priority as number) > 255) bad('priority must be an integer 1-255')
    return { consumerId: id(d.consumerId, 'consumerId'), priority: d.priority as number }
  },
  produceData: (d) => ({
    transportId: id(d.transportId, 'transportId'),
    sctpStreamParameters: sctpStreamParameters(d.sctpStreamParameters),
    label: label(d.label, 'label'),
    protocol: label(d.protocol, 'protocol'),
    appData: d.appData === undefined ? {} : object(d.appData, 'appData')
  }),
  consumeData: (d) => ({ transportId: id(d.transportId, 'transportId'), dataProducerId: id(d.dataProducerId, 'dataProducerId') }),
  closeDataProducer: (d) => ({ dataProducerId: id(d.dataProducerId, 'dataProducerId') }),
  closeDataConsumer: (d) => ({ dataConsumerId: id(d.dataConsumerId, 'dataConsumerId') })
}

function isMethod (value: unknown): value is ClientMethod {
  return typeof value === 'string' && Object.hasOwn(decoders, value)
}

/**
 * Validates one received text message. Throws SignallingError carrying the request id
 * when one could be read, so the caller can answer it.
 */
export function decodeClientRequest (text: string, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): ClientRequest {
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > maxBytes) throw new SignallingError('TooLarge', `message of ${bytes} bytes exceeds ${maxBytes}`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    bad('message is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('message must be a JSON object')
  const m = value as Json
  const rid = requestId(m.id)
  try {
    if (rid === null) bad('id must be an integer or a string of 1-64 characters')
    if (!isMethod(m.method)) {
      throw new SignallingError('UnknownMethod', `unknown method ${JSON.stringify(m.method)?.slice(0, 60) ?? 'undefined'}`)
    }
    const data = object(m.data ?? {}, 'data')
    return { id: rid, method: m.method, data: decoders[m.method](data) } as ClientRequest
  } catch (err) {
    if (err instanceof SignallingError) throw new SignallingError(err.code, err.message, rid)
    throw err
  }
}
