// Bytes on the wire of the DHT's messages: kad-dht's protobuf Message (dist/src/message/
// dht.proto) in a length-prefixed frame, on a new yamux stream per message (kad-dht opens
// one for every request), with multistream-select naming the protocol, each yamux frame in
// its own Noise message. TCP/IP headers are not counted. Also the node's own directory
// messages (announce, locate), sized with the node's encoder.
import { encodeFrame } from '../../src/protocol/messages.js'
import type { PeerInfoMessage, Request, Response } from '../../src/protocol/messages.js'

export interface WireInit {
  /** A peer id's multihash (Ed25519: identity multihash of the 36-byte public key = 38). */
  peerIdBytes: number
  /** One binary multiaddr (/ip4/…/tcp/… is 8, /ip6/…/tcp/… 20). */
  multiaddrBytes: number
  /** Multiaddrs sent with each peer in a message. */
  multiaddrsPerPeer: number
  /** A producer key as sent (the CID's sha2-256 multihash: 34). */
  keyBytes: number
  /** Added to every yamux frame: yamux header 12 + Noise length prefix 2 + Noise tag 16. */
  frameOverheadBytes: number
  /** The DHT's protocol id (the node's: `${protocolPrefix}/kad/1.0.0`). */
  kadProtocol: string
  /** libp2p ping's protocol id and payload (32 bytes each way). */
  pingProtocol: string
  pingPayloadBytes: number
}

/** kad-dht's message types that the simulation sends. */
export type KadMessageType = 'FIND_NODE' | 'GET_PROVIDERS' | 'ADD_PROVIDER'

/**
 * Frames of one exchange on a new stream. Request and answer: the dialer's SYN window
 * update, multistream-select, request, FIN; the listener's multistream-select answer (with
 * the ACK), answer, FIN. A message without answer (ADD_PROVIDER) has no answer frame.
 */
const FRAMES_REQUEST_ANSWER = 7
const FRAMES_ONE_WAY = 6
const MULTISTREAM_HEADER = '/multistream/1.0.0\n'

function varintLength (value: number): number {
  let length = 1
  while (value >= 128) {
    value = Math.floor(value / 128)
    length++
  }
  return length
}

function lengthDelimited (bodyBytes: number): number {
  return varintLength(bodyBytes) + bodyBytes
}

export class WireSizes {
  /** One PeerInfo inside a Message (field tag + length + id + multiaddrs). */
  readonly peerInfoBytes: number
  private readonly multistreamOneWay: (protocol: string) => number

  constructor (private readonly init: WireInit) {
    const id = 1 + lengthDelimited(init.peerIdBytes)
    const addrs = init.multiaddrsPerPeer * (1 + lengthDelimited(init.multiaddrBytes))
    this.peerInfoBytes = 1 + lengthDelimited(id + addrs)
    this.multistreamOneWay = (protocol) => lengthDelimited(MULTISTREAM_HEADER.length) + lengthDelimited(protocol.length + 1)
  }

  /**
   * A length-prefixed Message: type, key, then `peers` PeerInfos (closer peers and
   * providers). Answers to FIND_NODE carry no key.
   */
  message (type: KadMessageType, peers: number, withKey = true): number {
    const typeField = 2
    const keyField = withKey ? 1 + lengthDelimited(type === 'FIND_NODE' ? this.init.peerIdBytes : this.init.keyBytes) : 0
    return lengthDelimited(typeField + keyField + peers * this.peerInfoBytes)
  }

  /** A request and its answer with `answerPeers` peers in it, stream included. */
  requestAnswer (type: Exclude<KadMessageType, 'ADD_PROVIDER'>, answerPeers: number): number {
    return this.message(type, 0) + this.message(type, answerPeers, type !== 'FIND_NODE') +
      2 * this.multistreamOneWay(this.init.kadProtocol) + FRAMES_REQUEST_ANSWER * this.init.frameOverheadBytes
  }

  /** A request stream opened and reset at once: SYN, multistream-select, reset. */
  abortedRequest (): number {
    return this.multistreamOneWay(this.init.kadProtocol) + 3 * this.init.frameOverheadBytes
  }

  /** ADD_PROVIDER with the sender as its one provider, stream included. */
  addProvider (): number {
    return this.message('ADD_PROVIDER', 1) + 2 * this.multistreamOneWay(this.init.kadProtocol) +
      FRAMES_ONE_WAY * this.init.frameOverheadBytes
  }

  /** One libp2p ping (kad-dht pings on a new stream, each time). */
  ping (): number {
    return 2 * this.init.pingPayloadBytes + 2 * this.multistreamOneWay(this.init.pingProtocol) +
      FRAMES_REQUEST_ANSWER * this.init.frameOverheadBytes
  }
}

export interface NodeWireInit {
  /** A peer id as a string (Ed25519, base58btc: 52 characters). */
  peerIdChars: number
  /** A producer id (mediasoup's: a UUID, 36 characters). */
  producerIdChars: number
  /** Multiaddrs sent with a peer, as strings. */
  multiaddrs: string[]
  /** Added to every frame: yamux header 12 + Noise length prefix 2 + Noise tag 16. */
  frameOverheadBytes: number
}

/**
 * Bytes on the wire of the node's own directory messages (src/protocol/messages.ts: JSON in
 * varint length-prefixed frames, on one long-lived stream per pair of nodes and direction,
 * so no stream set-up per message; the session's opening is not counted). Sizes come from
 * the node's own encoder with ids of the real lengths.
 */
export class NodeWire {
  /** Sizes already computed, by message shape. */
  private readonly sizes = new Map<string, number>()

  constructor (private readonly init: NodeWireInit) {}

  private sized (shape: string, size: () => number): number {
    let bytes = this.sizes.get(shape)
    if (bytes === undefined) this.sizes.set(shape, bytes = size())
    return bytes
  }

  private peerId (i: number): string {
    return `12D3KooW${String(i).padStart(this.init.peerIdChars - 8, 'x')}`
  }

  private producerId (i: number): string {
    return String(i).padStart(this.init.producerIdChars, 'p')
  }

  private peers (count: number): PeerInfoMessage[] {
    return Array.from({ length: count }, (_, i) => ({ peerId: this.peerId(i), multiaddrs: this.init.multiaddrs }))
  }

  private frame (message: Request | Response): number {
    const body = encodeFrame(1000, message).length
    return varintLength(body) + body + this.init.frameOverheadBytes
  }

  /** `announce` of `ids` producers (or a withdrawal of them) and its answer (`closer` peers when one producer is announced). */
  announce (ids: number, closer: number, withdraw = false): number {
    return this.sized(`a${ids},${closer},${String(withdraw)}`, () => this.announceSize(ids, closer, withdraw))
  }

  private announceSize (ids: number, closer: number, withdraw: boolean): number {
    const producerIds = Array.from({ length: ids }, (_, i) => this.producerId(i))
    const request: Request = { type: 'announce', producerIds: withdraw ? [] : producerIds, withdrawn: withdraw ? producerIds : [] }
    const answer: Response = !withdraw && ids === 1 ? { type: 'closer', producerId: this.producerId(0), closer: this.peers(closer) } : { type: 'ok' }
    return this.frame(request) + this.frame(answer)
  }

  /** `locate` and its answer: `providers` providers, or (none) `closer` peers. */
  locate (providers: number, closer: number, waitMs: number): number {
    return this.sized(`l${providers},${closer},${waitMs}`, () => this.locateSize(providers, closer, waitMs))
  }

  private locateSize (providers: number, closer: number, waitMs: number): number {
    const producerId = this.producerId(0)
    return this.frame({ type: 'locate', producerId, waitMs }) +
      this.frame({ type: 'providers', producerId, providers: this.peers(providers), closer: this.peers(providers > 0 ? 0 : closer) })
  }
}
