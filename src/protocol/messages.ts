// Node-to-node wire messages (docs/protocol.md). JSON in varint length-prefixed frames on a
// long-lived stream per pair of nodes and direction; each frame carries an `id` that pairs
// a response with its request. Everything received is validated here before any other
// code sees it: a message that fails gets a `bad-message` answer, never a crash.
// A `pipeId` always names the receiving node's own PipeTransport.
import net from 'node:net'
import { ProtocolError, WIRE_ERROR_CODES } from '../errors.js'
import type { WireErrorCode } from '../errors.js'
import type { types as ms } from 'mediasoup'

/**
 * In the protocol id, so nodes of different versions do not talk: changed (major) for
 * breaking changes only; optional additions keep it (docs/protocol.md).
 */
export const PROTOCOL_VERSION = '2.0.0'
export const pipeProtocolId = (prefix: string): string => `${prefix}/pipe/${PROTOCOL_VERSION}`

/** Largest frame accepted (bytes); a video producer's rtpParameters take ~2 KiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024

/** Request ids are integers 0…MAX_REQUEST_ID, unique among one requester's requests under way. */
export const MAX_REQUEST_ID = 2 ** 31 - 1

/** This node's end of a pipe: where its PipeTransport listens and its SRTP key. */
export interface PipeEndpoint {
  pipeId: string
  ip: string
  port: number
  srtpParameters: ms.SrtpParameters
}

/** The sender's load in scaling points (placement decisions, status pages). */
export interface Load { load: number, capacity: number }

/**
 * Ask for a producer. `linkId` names the requester's pipe intent toward the responder;
 * `rtts` are the requester's measured round-trip times to its peers (ranking redirects);
 * `recruited` marks the pull of a node asked to become a relay (may use the reserve);
 * `offer`, when the requester has no pipe from the responder yet, is an unconnected
 * PipeTransport of the requester that a new pipe connects to at once (no connect-pipe).
 */
export interface PullRequest extends Load {
  type: 'pull'
  producerId: string
  linkId: string
  rtts: Record<string, number>
  recruited: boolean
  offer?: PipeEndpoint
  /**
   * The requester is moving off this node (peer id): it drains, or the requester lost it
   * (dead, frozen, cut off). When that node is downstream of the answering one, its slot
   * is about to free, so the pull may take one slot beyond the fan-out.
   */
  leaving?: string
  /**
   * True: `producerId` names a data producer (node.pipeToRouter({ dataProducerId })), and
   * the answer is a `data-pull-ok`. Absent: a media producer. A node never serves one kind
   * to a pull of the other (`not-found`).
   */
  data?: boolean
}
/** Ask a node for its load, and its downstream count for one producer. */
export interface StatusRequest { type: 'status', producerId?: string }
/** Ask a node with spare capacity to pull `producerId` from the sender and relay it. */
export interface RecruitRequest { type: 'recruit', producerId: string, /** `producerId` names a data producer. */ data?: boolean }
/** Connect the receiver's pipe `pipeId` to the sender's end `remote`. */
export interface ConnectPipeRequest { type: 'connect-pipe', pipeId: string, remote: PipeEndpoint }
/**
 * Upstream → puller: the producer was paused, resumed or closed there. A close with
 * `reason: 'upstream-lost'` means the sender lost its own upstream and is getting the
 * producer again: the puller restores its copy (from the sender first) instead of
 * dropping it.
 */
export interface ProducerEventRequest { type: 'producer-event', pipeId: string, producerId: string, event: 'pause' | 'resume' | 'close', reason?: CloseReason }
/** Why an upstream closed a producer: gone at its origin (the default), or only lost on the way. */
export type CloseReason = 'closed' | 'upstream-lost'
/**
 * Upstream → puller: the sender is draining; get `producerId` from another node (the new
 * path is made before the old one closes). Answered `ok` at once.
 */
export interface MoveRequest { type: 'move', producerId: string }
/** Puller → origin: the puller closed its copy; stop sending it. */
export interface ReleaseRequest { type: 'release', pipeId: string, producerId: string }
/** Either side: this pipe (named by the receiver's pipeId) is closed. */
export interface ClosePipeRequest { type: 'close-pipe', pipeId: string }
/**
 * To a home of the producers (one of the nodes closest to their DHT keys): the sender
 * provides `producerIds` (records kept for the provider validity unless announced again)
 * and no longer provides `withdrawn`. Answered `ok`, or `closer` for one producer. With
 * `neighbour`, to a node the sender is connected to, not as a home: answered `ok`. With
 * `refresh`, records the home may hold already (a re-announcement, a hand-off to a peer
 * that connects), whose sender reads no closer nodes: answered `ok`.
 */
export interface AnnounceRequest { type: 'announce', producerIds: string[], withdrawn: string[], neighbour?: boolean, refresh?: boolean }
/**
 * To a home: who provides `producerId`? When it knows none yet, the home waits up to
 * `waitMs` for an announcement before it answers (`providers`, possibly empty). With
 * `forward`, a receiver that has no record at once also asks the holders of the records it
 * is connected to (at most 3, without `forward`) and answers with what they name.
 */
export interface LocateRequest { type: 'locate', producerId: string, waitMs: number, forward?: boolean }

/** Which producers created on the receiver (originals, not copies) are in `room`? Answered `room-producers-ok`. */
export interface RoomProducersRequest { type: 'room-producers', room: string }

/**
 * Any node → a node on a producer's tree: what it does with the producer (status pages
 * draw the whole tree by asking its nodes one by one). Answered `tree-ok`.
 */
export interface TreeRequest { type: 'tree', producerId: string }

export type Request = PullRequest | StatusRequest | RecruitRequest | ConnectPipeRequest | ProducerEventRequest | ReleaseRequest | ClosePipeRequest | MoveRequest | AnnounceRequest | LocateRequest | RoomProducersRequest | TreeRequest

export interface PullOk extends Load {
  type: 'pull-ok'
  /** Peer ids from the origin to the answering node, both included (loop prevention). */
  route: string[]
  producerId: string
  kind: ms.MediaKind
  rtpParameters: ms.RtpParameters
  paused: boolean
  appData: Record<string, unknown>
  pipe: PipeEndpoint
  /** The requester's PipeTransport `pipe` is connected to, once it is (an offer, or connect-pipe). */
  peerPipeId?: string
}
/**
 * Answer to a pull with `data: true`: a data consumer of the producer is on the pipe's
 * SCTP association, stream `sctpStreamParameters.streamId`; the requester makes a data
 * producer with the same id, label and protocol on its end of the pipe.
 */
export interface DataPullOk extends Load {
  type: 'data-pull-ok'
  route: string[]
  producerId: string
  sctpStreamParameters: ms.SctpStreamParameters
  label: string
  protocol: string
  paused: boolean
  appData: Record<string, unknown>
  pipe: PipeEndpoint
  peerPipeId?: string
}
/** Ask these nodes instead, best first: they already receive the producer (or were recruited to). */
export interface Redirect { type: 'redirect', producerId: string, candidates: Array<{ peerId: string, multiaddrs: string[] }> }
/** `has`: the node has the producer asked about; `downstream`: pipes it sends it on. */
/** `pulling`: the node is getting the producer now (it has no copy yet, and will have). */
/**
 * `draining`: the node takes no new pulls or recruits (node.drain()); absent means false.
 * `fanout`: its own fan-out (nodes may differ); absent: assume the asker's.
 */
export interface StatusOk extends Load { type: 'status-ok', has: boolean, pulling: boolean, downstream: number, draining?: boolean, fanout?: number }
export interface Ok { type: 'ok' }
/** A peer and the addresses the sender knows for it. */
export interface PeerInfoMessage { peerId: string, multiaddrs: string[] }
/**
 * Answer to `locate`: the providers the home knows, with the addresses it knows for them,
 * and the nodes it knows closest to the producer's key (other homes, as it sees them).
 */
export interface Providers { type: 'providers', producerId: string, providers: PeerInfoMessage[], closer?: PeerInfoMessage[] }
/** Answer to an `announce` of one producer: the nodes the home knows closest to its key. */
export interface Closer { type: 'closer', producerId: string, closer: PeerInfoMessage[] }
/** `code`: see WIRE_ERROR_CODES (src/errors.ts); a code this version does not know reads as `internal`. */
export interface ErrorAnswer { type: 'error', code: WireErrorCode, message: string }

/**
 * One producer of a room as its origin lists it: `appData` is the producer's own when its
 * JSON takes at most MAX_ROOM_APPDATA_BYTES, else only `{ room }`.
 */
export interface RoomProducer { id: string, kind: ms.MediaKind, paused: boolean, appData: Record<string, unknown> }
/** Answer to `room-producers`: at most MAX_ROOM_PRODUCERS of the room's producers created on the answering node. */
export interface RoomProducersOk { type: 'room-producers-ok', room: string, producers: RoomProducer[] }

/** Media figures of one pipe carrying a producer, as the answering node measured them. */
export interface PipeFiguresMessage { peerId: string, direction: 'in' | 'out', bitrateBps: number, packetLossFraction: number }
/**
 * Answer to `tree`: the answering node's name and load, whether it has the producer, its
 * route (origin … itself), the nodes it sends it to (with addresses, so the asker can reach
 * them) and, when it samples them, its pipes' figures for that producer.
 */
export interface TreeOk extends Load {
  type: 'tree-ok'
  producerId: string
  name?: string
  has: boolean
  route: string[]
  downstream: PeerInfoMessage[]
  pipes?: PipeFiguresMessage[]
}

export type Response = PullOk | DataPullOk | Redirect | StatusOk | Ok | Providers | Closer | TreeOk | ErrorAnswer | RoomProducersOk

/** Limits on list sizes in messages. */
export const MAX_ROUTE = 32
export const MAX_CANDIDATES = 16
export const MAX_RTTS = 64
export const MAX_ANNOUNCED_IDS = 256
/** Closer nodes in one answer at most. */
export const MAX_CLOSER = 8
/** Longest data channel label or protocol accepted, in characters. */
export const MAX_DATA_LABEL = 1024
/** SCTP stream ids are 16-bit. */
export const MAX_SCTP_STREAM_ID = 65535

/** Downstream nodes in one `tree-ok` at most (a node's fan-out is 4 by default). */
export const MAX_TREE_DOWNSTREAM = 32
/** Longest node name (the `name` option; a Linux host name, HOST_NAME_MAX). */
export const MAX_NAME = 64
const NAME = /^[A-Za-z0-9._-]{1,64}$/

/** True for a valid node name: 1-64 characters of `[A-Za-z0-9._-]`. */
export function isNodeName (value: unknown): value is string {
  return typeof value === 'string' && NAME.test(value)
}
/** Longest a `locate` may ask a home to wait for a record. */
export const MAX_LOCATE_WAIT_MS = 2000

/** Longest room name (characters), as a client token's room grant. */
export const MAX_ROOM_LENGTH = 128
/** Producers of one room in one `room-producers-ok` at most. */
export const MAX_ROOM_PRODUCERS = 64
/** A listed producer's appData is sent whole up to this size (JSON bytes): 64 of them fit in a frame. */
export const MAX_ROOM_APPDATA_BYTES = 512

type Json = Record<string, unknown>

const SRTP_SUITES = new Set(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'])

/** An optional boolean field: true only when present and true. */
function optionalBoolean (value: unknown, field: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') fail(`${field} must be a boolean`)
  return value === true
}

function fail (message: string): never {
  throw new ProtocolError('bad-message', message)
}

function object (value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be an object`)
  return value as Json
}

function id (value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128 || !/^[\w.:-]+$/.test(value)) {
    fail(`${what} must be an id string (1-128 of [A-Za-z0-9_.:-])`)
  }
  return value
}

function endpoint (value: unknown, what: string): PipeEndpoint {
  const e = object(value, what)
  if (typeof e.ip !== 'string' || net.isIP(e.ip) === 0) fail(`${what}.ip must be an IP address`)
  if (!Number.isInteger(e.port) || (e.port as number) < 1 || (e.port as number) > 65535) fail(`${what}.port must be 1-65535`)
  const srtp = object(e.srtpParameters, `${what}.srtpParameters`)
  if (typeof srtp.cryptoSuite !== 'string' || !SRTP_SUITES.has(srtp.cryptoSuite)) fail(`${what}.srtpParameters.cryptoSuite is not an SRTP suite`)
  if (typeof srtp.keyBase64 !== 'string' || !/^[A-Za-z0-9+/=]{16,128}$/.test(srtp.keyBase64)) fail(`${what}.srtpParameters.keyBase64 must be base64`)
  return {
    pipeId: id(e.pipeId, `${what}.pipeId`),
    ip: e.ip,
    port: e.port as number,
    srtpParameters: { cryptoSuite: srtp.cryptoSuite as ms.SrtpCryptoSuite, keyBase64: srtp.keyBase64 }
  }
}

function count (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${what} must be a non-negative number`)
  return value
}

function load (m: Json): Load {
  return { load: count(m.load, 'load'), capacity: count(m.capacity, 'capacity') }
}

/** What `pull-ok` and `data-pull-ok` both say of the copy they serve: its state, its pipe, its route and the server's load. */
function servedCopy (m: Json): Pick<PullOk, 'paused' | 'appData' | 'pipe' | 'peerPipeId' | 'route' | 'load' | 'capacity'> {
  if (typeof m.paused !== 'boolean') fail('paused must be a boolean')
  return {
    paused: m.paused,
    appData: m.appData === undefined ? {} : object(m.appData, 'appData'),
    pipe: endpoint(m.pipe, 'pipe'),
    ...(m.peerPipeId === undefined ? {} : { peerPipeId: id(m.peerPipeId, 'peerPipeId') }),
    route: list(m.route, MAX_ROUTE, 'route', id),
    ...load(m)
  }
}

function list<T> (value: unknown, max: number, what: string, item: (v: unknown, what: string) => T): T[] {
  if (!Array.isArray(value) || value.length > max) fail(`${what} must be an array of at most ${max}`)
  return value.map((v, i) => item(v, `${what}[${i}]`))
}

function multiaddr (value: unknown, what: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 256) fail(`${what} must be a multiaddr string`)
  return value
}

function peerInfo (value: unknown, what: string): { peerId: string, multiaddrs: string[] } {
  const c = object(value, what)
  return { peerId: id(c.peerId, `${what}.peerId`), multiaddrs: list(c.multiaddrs, 8, `${what}.multiaddrs`, multiaddr) }
}

function fraction (value: unknown, what: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(`${what} must be a number from 0 to 1`)
  return value
}

function pipeFigures (value: unknown, what: string): PipeFiguresMessage {
  const f = object(value, what)
  if (f.direction !== 'in' && f.direction !== 'out') fail(`${what}.direction must be in or out`)
  return {
    peerId: id(f.peerId, `${what}.peerId`),
    direction: f.direction,
    bitrateBps: count(f.bitrateBps, `${what}.bitrateBps`),
    packetLossFraction: fraction(f.packetLossFraction, `${what}.packetLossFraction`)
  }
}

function rtts (value: unknown): Record<string, number> {
  const o = object(value ?? {}, 'rtts')
  const entries = Object.entries(o)
  if (entries.length > MAX_RTTS) fail(`rtts must have at most ${MAX_RTTS} entries`)
  return Object.fromEntries(entries.map(([k, v]) => [id(k, 'rtts key'), count(v, `rtts.${k}`)]))
}

/** rtpParameters are checked for shape here; mediasoup's produce() checks the rest. */
function rtpParameters (value: unknown): ms.RtpParameters {
  const p = object(value, 'rtpParameters')
  if (!Array.isArray(p.codecs) || p.codecs.length === 0) fail('rtpParameters.codecs must be a non-empty array')
  if (p.encodings !== undefined && !Array.isArray(p.encodings)) fail('rtpParameters.encodings must be an array')
  return p as unknown as ms.RtpParameters
}

function sctpStreamParameters (value: unknown): ms.SctpStreamParameters {
  const p = object(value, 'sctpStreamParameters')
  if (!Number.isInteger(p.streamId) || (p.streamId as number) < 0 || (p.streamId as number) > MAX_SCTP_STREAM_ID) fail(`sctpStreamParameters.streamId must be 0-${MAX_SCTP_STREAM_ID}`)
  if (p.ordered !== undefined && typeof p.ordered !== 'boolean') fail('sctpStreamParameters.ordered must be a boolean')
  const limit = (v: unknown, what: string): number | undefined => {
    if (v === undefined) return undefined
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) fail(`sctpStreamParameters.${what} must be 0-65535`)
    return v as number
  }
  const maxPacketLifeTime = limit(p.maxPacketLifeTime, 'maxPacketLifeTime')
  const maxRetransmits = limit(p.maxRetransmits, 'maxRetransmits')
  return {
    streamId: p.streamId as number,
    ...(p.ordered === undefined ? {} : { ordered: p.ordered }),
    ...(maxPacketLifeTime === undefined ? {} : { maxPacketLifeTime }),
    ...(maxRetransmits === undefined ? {} : { maxRetransmits })
  }
}

function text (value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length > MAX_DATA_LABEL) fail(`${what} must be a string of at most ${MAX_DATA_LABEL} characters`)
  return value
}

function room (value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ROOM_LENGTH) fail(`room must be a string of 1-${MAX_ROOM_LENGTH} characters`)
  return value
}

function roomProducer (value: unknown, what: string): RoomProducer {
  const p = object(value, what)
  if (p.kind !== 'audio' && p.kind !== 'video') fail(`${what}.kind must be audio or video`)
  if (typeof p.paused !== 'boolean') fail(`${what}.paused must be a boolean`)
  return { id: id(p.id, `${what}.id`), kind: p.kind, paused: p.paused, appData: object(p.appData, `${what}.appData`) }
}

function decodeJson (bytes: Uint8Array): Json {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) throw new ProtocolError('too-large', `message of ${bytes.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    fail('message is not UTF-8 JSON')
  }
  return object(value, 'message')
}

export function decodeRequest (bytes: Uint8Array): Request {
  return requestOf(decodeJson(bytes))
}

function requestOf (m: Json): Request {
  switch (m.type) {
    case 'pull':
      return {
        type: 'pull',
        producerId: id(m.producerId, 'producerId'),
        linkId: id(m.linkId, 'linkId'),
        rtts: rtts(m.rtts),
        recruited: optionalBoolean(m.recruited, 'recruited'),
        ...(m.offer === undefined ? {} : { offer: endpoint(m.offer, 'offer') }),
        ...(m.leaving === undefined ? {} : { leaving: id(m.leaving, 'leaving') }),
        ...(optionalBoolean(m.data, 'data') ? { data: true } : {}),
        ...load(m)
      }
    case 'status':
      return m.producerId === undefined ? { type: 'status' } : { type: 'status', producerId: id(m.producerId, 'producerId') }
    case 'recruit':
      return { type: 'recruit', producerId: id(m.producerId, 'producerId'), ...(optionalBoolean(m.data, 'data') ? { data: true } : {}) }
    case 'connect-pipe':
      return { type: 'connect-pipe', pipeId: id(m.pipeId, 'pipeId'), remote: endpoint(m.remote, 'remote') }
    case 'producer-event':
      if (m.event !== 'pause' && m.event !== 'resume' && m.event !== 'close') fail('event must be pause, resume or close')
      if (m.reason !== undefined && m.reason !== 'closed' && m.reason !== 'upstream-lost') fail('reason must be closed or upstream-lost')
      return {
        type: 'producer-event',
        pipeId: id(m.pipeId, 'pipeId'),
        producerId: id(m.producerId, 'producerId'),
        event: m.event,
        ...(m.reason === undefined ? {} : { reason: m.reason })
      }
    case 'move':
      return { type: 'move', producerId: id(m.producerId, 'producerId') }
    case 'release':
      return { type: 'release', pipeId: id(m.pipeId, 'pipeId'), producerId: id(m.producerId, 'producerId') }
    case 'close-pipe':
      return { type: 'close-pipe', pipeId: id(m.pipeId, 'pipeId') }
    case 'announce':
      return {
        type: 'announce',
        producerIds: list(m.producerIds, MAX_ANNOUNCED_IDS, 'producerIds', id),
        withdrawn: list(m.withdrawn ?? [], MAX_ANNOUNCED_IDS, 'withdrawn', id),
        ...(optionalBoolean(m.neighbour, 'neighbour') ? { neighbour: true } : {}),
        ...(optionalBoolean(m.refresh, 'refresh') ? { refresh: true } : {})
      }
    case 'tree':
      return { type: 'tree', producerId: id(m.producerId, 'producerId') }
    case 'locate':
      if (typeof m.waitMs !== 'number' || !Number.isFinite(m.waitMs) || m.waitMs < 0 || m.waitMs > MAX_LOCATE_WAIT_MS) fail(`waitMs must be 0-${MAX_LOCATE_WAIT_MS}`)
      return { type: 'locate', producerId: id(m.producerId, 'producerId'), waitMs: m.waitMs, ...(optionalBoolean(m.forward, 'forward') ? { forward: true } : {}) }
    case 'room-producers':
      return { type: 'room-producers', room: room(m.room) }
    default:
      throw new ProtocolError('unknown-type', `unknown request type ${JSON.stringify(m.type)?.slice(0, 40)}`)
  }
}

export function decodeResponse (bytes: Uint8Array): Response {
  return responseOf(decodeJson(bytes))
}

function responseOf (m: Json): Response {
  switch (m.type) {
    case 'ok':
      return { type: 'ok' }
    case 'pull-ok':
      if (m.kind !== 'audio' && m.kind !== 'video') fail('kind must be audio or video')
      return {
        type: 'pull-ok',
        producerId: id(m.producerId, 'producerId'),
        kind: m.kind,
        rtpParameters: rtpParameters(m.rtpParameters),
        ...servedCopy(m)
      }
    case 'data-pull-ok':
      return {
        type: 'data-pull-ok',
        producerId: id(m.producerId, 'producerId'),
        sctpStreamParameters: sctpStreamParameters(m.sctpStreamParameters),
        label: text(m.label ?? '', 'label'),
        protocol: text(m.protocol ?? '', 'protocol'),
        ...servedCopy(m)
      }
    case 'redirect':
      return { type: 'redirect', producerId: id(m.producerId, 'producerId'), candidates: list(m.candidates, MAX_CANDIDATES, 'candidates', peerInfo) }
    case 'providers':
      return {
        type: 'providers',
        producerId: id(m.producerId, 'producerId'),
        providers: list(m.providers, MAX_CANDIDATES, 'providers', peerInfo),
        ...(m.closer === undefined ? {} : { closer: list(m.closer, MAX_CLOSER, 'closer', peerInfo) })
      }
    case 'closer':
      return { type: 'closer', producerId: id(m.producerId, 'producerId'), closer: list(m.closer, MAX_CLOSER, 'closer', peerInfo) }
    case 'tree-ok':
      if (typeof m.has !== 'boolean') fail('has must be a boolean')
      if (m.name !== undefined && !isNodeName(m.name)) fail(`name must be 1-${MAX_NAME} characters of [A-Za-z0-9._-]`)
      return {
        type: 'tree-ok',
        producerId: id(m.producerId, 'producerId'),
        ...(m.name === undefined ? {} : { name: m.name }),
        has: m.has,
        route: list(m.route, MAX_ROUTE, 'route', id),
        downstream: list(m.downstream, MAX_TREE_DOWNSTREAM, 'downstream', peerInfo),
        ...(m.pipes === undefined ? {} : { pipes: list(m.pipes, MAX_TREE_DOWNSTREAM + 1, 'pipes', pipeFigures) }),
        ...load(m)
      }
    case 'status-ok':
      if (typeof m.has !== 'boolean') fail('has must be a boolean')
      if (typeof m.pulling !== 'boolean') fail('pulling must be a boolean')
      if (m.draining !== undefined && typeof m.draining !== 'boolean') fail('draining must be a boolean')
      if (m.fanout !== undefined && (!Number.isInteger(m.fanout) || (m.fanout as number) < 1)) fail('fanout must be a positive integer')
      return {
        type: 'status-ok',
        has: m.has,
        pulling: m.pulling,
        downstream: count(m.downstream, 'downstream'),
        ...(m.draining === true ? { draining: true } : {}),
        ...(m.fanout === undefined ? {} : { fanout: m.fanout as number }),
        ...load(m)
      }
    case 'error':
      if (typeof m.code !== 'string' || typeof m.message !== 'string') fail('error needs code and message strings')
      return { type: 'error', code: (WIRE_ERROR_CODES as readonly string[]).includes(m.code) ? m.code as WireErrorCode : 'internal', message: m.message.slice(0, 500) }
    case 'room-producers-ok':
      return { type: 'room-producers-ok', room: room(m.room), producers: list(m.producers, MAX_ROOM_PRODUCERS, 'producers', roomProducer) }
    default:
      throw new ProtocolError('unknown-type', `unknown response type ${JSON.stringify(m.type)?.slice(0, 40)}`)
  }
}

export function encode (message: Request | Response): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

function requestId (value: unknown): number | null {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_REQUEST_ID ? value as number : null
}

/**
 * A request frame: the request with its id, or the error to answer with the id when it
 * could be read (null otherwise).
 */
export function decodeRequestFrame (bytes: Uint8Array): { id: number, request: Request } | { id: number | null, error: ProtocolError } {
  let m: Json
  try {
    m = decodeJson(bytes)
  } catch (err) {
    if (err instanceof ProtocolError) return { id: null, error: err }
    throw err
  }
  const id = requestId(m.id)
  try {
    const request = requestOf(m)
    if (id === null) return { id, error: new ProtocolError('bad-message', `id must be an integer 0-${MAX_REQUEST_ID}`) }
    return { id, request }
  } catch (err) {
    if (err instanceof ProtocolError) return { id, error: err }
    throw err
  }
}

/** A response frame; throws ProtocolError when it has no valid id (a broken peer). */
export function decodeResponseFrame (bytes: Uint8Array): { id: number, response: Response } | { id: number, error: ProtocolError } {
  const m = decodeJson(bytes)
  const id = requestId(m.id)
  if (id === null) throw new ProtocolError('bad-message', `response id must be an integer 0-${MAX_REQUEST_ID}`)
  try {
    return { id, response: responseOf(m) }
  } catch (err) {
    if (err instanceof ProtocolError) return { id, error: err }
    throw err
  }
}

/** A frame: the message with its request id (null answers a request whose id was unreadable). */
export function encodeFrame (id: number | null, message: Request | Response): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ id, ...message }))
}
