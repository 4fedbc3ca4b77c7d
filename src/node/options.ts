// Public options of createSwarmNode(), each with its default (also in docs/api.md).
import os from 'node:os'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_COSTS, defaultCapacity } from '../placement/capacity.js'
import { isNodeName, MAX_NAME } from '../protocol/messages.js'
import { DEFAULT_SERVE_LIMITS } from '../protocol/rpc.js'
import type { AddressPolicy } from '../p2p/host.js'
import type { ScalingCosts } from '../placement/capacity.js'
import type { ServeLimits } from '../protocol/rpc.js'
import type { types as ms } from 'mediasoup'

export interface SwarmNodeOptions {
  /** libp2p listen multiaddrs. Default `['/ip4/127.0.0.1/tcp/0']` (a free loopback port). */
  listen?: string[]
  /** Extra multiaddrs to announce to peers (public address behind NAT). Default none. */
  announce?: string[]
  /** Multiaddrs (with /p2p/<peerId>) of nodes to join through. Default none (first node). */
  bootstrap?: string[]
  /**
   * Ed25519 identity key file; created (mode 0600) when missing, so the peer id survives
   * restarts. Default none: a new identity each start.
   */
  identityFile?: string
  /** Pre-shared swarm key file (`/key/swarm/psk/1.0.0/`): a private swarm. Default none. */
  swarmKeyFile?: string
  /**
   * The node's name for people (status pages, logs), told to peers in libp2p identify:
   * 1-64 characters of `[A-Za-z0-9._-]`, not unique. Default the host name
   * (`os.hostname()`, other characters replaced by `-`, cut at 64).
   */
  name?: string
  /**
   * Peer ids allowed to connect, either way; any other peer is refused during the
   * handshake, before any protocol runs. The peer ids of `bootstrap` addresses are allowed
   * too. Change it later with `node.setAllowedPeers()`. Default none: any peer (that has
   * the swarm key, if there is one).
   */
  allowPeers?: string[]
  /**
   * Allows listening on a non-loopback address with neither `swarmKeyFile` nor
   * `allowPeers`, where anyone who reaches the port joins the swarm, learns its producers
   * and pulls them. Default false: such options throw TypeError (docs/security.md).
   */
  openSwarm?: boolean
  /** Prefix of the DHT and pipe protocol ids; swarms with other prefixes do not mix. Default `'/mediasoup-swarm'`. */
  protocolPrefix?: string
  /**
   * Which peer addresses the DHT keeps: `'all'` (default: loopback and LAN work, right for
   * one host or a LAN), `'private'` (LAN-only swarm), `'public'` (internet swarm: drop
   * loopback and private ranges).
   */
  addressPolicy?: AddressPolicy
  /** Number of mediasoup workers (one CPU core each). Default 1. */
  numWorkers?: number
  /** Settings for every worker (rtcMinPort/rtcMaxPort, logLevel…). Default mediasoup's (ports 10000-59999). */
  workerSettings?: ms.WorkerSettings
  /** IP the pipe transports listen on. Default `'127.0.0.1'`; use a LAN/public IP across hosts. */
  pipeListenIp?: string
  /** IP announced to other nodes for pipes (NAT, containers). Default `pipeListenIp`. */
  pipeAnnouncedIp?: string
  /** Timeouts in milliseconds: see `SwarmTimeouts`. */
  timeouts?: Partial<SwarmTimeouts>
  /** Capacity in scaling points. Default `numWorkers * 2000` (≈500 video consumers per worker). */
  capacity?: number
  /** Points per local consumer / outgoing pipe, by kind. Default audio 1, video 4 (both). */
  costs?: Partial<ScalingCosts>
  /** Most downstream pipes this node serves per producer; more requesters are redirected. Default 4. */
  fanout?: number
  /** Points kept free for relays this node recruits (only their pulls may use them). Default one video pipe's cost. */
  recruitReserve?: number
  /** Redirects a pull follows before giving up on that path. Default 6. */
  maxRedirects?: number
  /**
   * Connections kept at most: past it libp2p closes the lowest-valued ones (never a peer
   * this node has a pipe with while others are left). Default 32.
   */
  maxConnections?: number
  /**
   * Codecs of the router a node creates for itself when recruited as a relay. Must cover
   * the codecs producers use. Default Opus, VP8, VP9, H264 (baseline and main).
   */
  relayMediaCodecs?: ms.RtpCodecCapability[]
  /** What one peer may hold of this node: see `PeerLimits`. */
  peerLimits?: Partial<PeerLimits>
  /** Limits on connections being set up: see `ConnectionLimits`. */
  connectionLimits?: Partial<ConnectionLimits>
}

/**
 * Bounds on inbound libp2p connections before they are set up (the TCP connection is
 * open, the swarm key, Noise and Yamux handshakes are not done): floods of idle or
 * half-open connections cost the flooder its addresses, not newcomers their place
 * (docs/security.md, "Connection limits").
 */
export interface ConnectionLimits {
  /** Inbound connections in their handshake at once, in all; past it new ones are closed at once. Default 256. */
  pendingInbound: number
  /** Inbound connections in their handshake at once from one IP address (127.0.0.1 and ::1: no limit). Default 8. */
  pendingInboundPerIp: number
  /** New inbound connections accepted per second from one IP address (127.0.0.1 and ::1: no limit). Default 5. */
  inboundPerIpPerSecond: number
  /** An inbound connection whose handshake is not done after this many ms is closed. Default 3000. */
  handshakeTimeoutMs: number
  /** Connections with one peer at once (a second one may cross the first when both dial). Default 2. */
  perPeer: number
}

/**
 * Bounds on what one peer can make this node do on the pipe protocol; past them its
 * requests are answered `busy` (docs/protocol.md#limits-per-peer).
 */
export interface PeerLimits extends ServeLimits {
  /**
   * Pipes (PipeTransport pairs) toward one peer at once. A peer needs one per pair of
   * routers (its router, ours) it pulls between. Default 64.
   */
  pipes: number
  /**
   * Consumers of one producer toward one peer at once. A peer pulls a producer once and
   * pipes it between its own routers; the second is for a pipe being replaced. Default 2.
   */
  copiesPerProducer: number
  /**
   * Recruits of one peer that may make this node pull, per minute (8 at once at most); a
   * peer whose recruit ends in a failed pull from it loses its whole allowance. Default 60.
   */
  recruitsPerMinute: number
}

/** Why a peer was refused by a `peerLimits` bound, or its session reset (node.peerRefusalCounts). */
export const PEER_REFUSALS = ['rate', 'recruits', 'pipes', 'copies', 'incomplete-frame', 'unread-overflow'] as const
export type PeerRefusal = typeof PEER_REFUSALS[number]

/** Defaults of the scalar options, in one place (the binary's defaults are these too). */
export const DEFAULTS = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  protocolPrefix: '/mediasoup-swarm',
  addressPolicy: 'all' as AddressPolicy,
  numWorkers: 1,
  pipeListenIp: '127.0.0.1',
  fanout: 4,
  maxRedirects: 6,
  maxConnections: 32,
  peerLimits: { pipes: 64, copiesPerProducer: 2, recruitsPerMinute: 60, ...DEFAULT_SERVE_LIMITS } satisfies PeerLimits,
  connectionLimits: { pendingInbound: 256, pendingInboundPerIp: 8, inboundPerIpPerSecond: 5, handshakeTimeoutMs: 3000, perPeer: 2 } satisfies ConnectionLimits
} as const

export const DEFAULT_RELAY_CODECS: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '4d0032', 'level-asymmetry-allowed': 1 } }
]

export interface SwarmTimeouts {
  /** How long pipeToRouter() keeps looking for an unknown producer before ProducerNotFoundError. Default 5000. */
  lookup: number
  /** Deadline of one node-to-node request. Default 3000. */
  request: number
  /** A pipe whose other side never connects is closed after this. Default 10000. */
  pipeConnect: number
  /**
   * Ping period of every connected peer (round-trip times for ranking, liveness of idle
   * peers): a peer that misses two pings in a row is given up, within three periods. Kept
   * long because it costs every connection: the links that carry media are watched by
   * `mediaSilence` and `livenessPing` instead. Default 60000.
   */
  ping: number
  /**
   * An incoming pipe that receives nothing for this long while a copy on it is not paused
   * makes the node ping its upstream (deadline `livenessPing`); no answer either, and the
   * upstream is given up and the copies restored through other nodes. An upstream that
   * answers while the pipe stays quiet is asked again after twice as long each time, up to
   * `ping`. Default 1000.
   */
  mediaSilence: number
  /** Deadline of a liveness ping: a silent upstream's, and a repair candidate's before it is asked. Default 500. */
  livenessPing: number
  /** Lifetime of a home record (`announce`), re-announced every half of it. Default 120000. */
  providerValidity: number
  /**
   * Lifetime of an original producer's DHT provider record, re-provided every half of it.
   * Long because each re-provide is a DHT walk and about 8 stores (kad-dht's k), for every original,
   * the largest idle cost at 25+ nodes, and one that grows with the share of the nodes a
   * walk must dial; the DHT is only the fallback of lookups, and a stale record costs a
   * requester one `not-found` answer. kad-dht's own default is 48 h, re-provided within its
   * last 24 h. Default 7200000 (2 h: re-provided every hour).
   */
  dhtRecordValidity: number
  /**
   * How long an original producer lives before it is also put in the DHT (a kad-dht
   * provider record), plus up to a fifth of it at random so that a burst of producers is
   * not walked at once. Its homes have its record from the start (docs/protocol.md,
   * `announce`); the DHT is the durable second copy of long-lived producers. A walk and its
   * stores cost ≈ 20-40 messages and dials: at 2 s, 100 producers' walks kept a 50-node swarm
   * on 2 cores saturated (docs/benchmarks.md, section 6). Default 300000 (5 min).
   */
  dhtProvideDelay: number
  /** Dial timeout for a peer. Default 3000. */
  dial: number
  /**
   * Deadline of one DHT announcement of a producer. One that no node stored by then (the
   * node was alone) is sent again when a peer joins. Default 10000.
   */
  announce: number
  /**
   * Period of a watched room's poll (node.watchRoom(), docs/api.md#rooms): the nodes that
   * have producers in it are found through their homes and asked for them (`room-producers`).
   * A producer published or closed on another node reaches the watchers within about this
   * long; producers of this node at once. Default 2000.
   */
  roomPoll: number
}

export const DEFAULT_TIMEOUTS: SwarmTimeouts = {
  lookup: 5000,
  request: 3000,
  pipeConnect: 10_000,
  ping: 60_000,
  mediaSilence: 1000,
  livenessPing: 500,
  providerValidity: 120_000,
  dhtRecordValidity: 7_200_000,
  dhtProvideDelay: 300_000,
  dial: 3000,
  announce: 10_000,
  roomPoll: 2000
}

export type ResolvedOptions = Required<Omit<SwarmNodeOptions, 'identityFile' | 'swarmKeyFile' | 'allowPeers' | 'pipeAnnouncedIp' | 'timeouts' | 'costs' | 'peerLimits' | 'connectionLimits'>> &
  Pick<SwarmNodeOptions, 'identityFile' | 'swarmKeyFile' | 'allowPeers'> &
  { pipeAnnouncedIp: string, timeouts: SwarmTimeouts, costs: ScalingCosts, peerLimits: PeerLimits, connectionLimits: ConnectionLimits }

function positive (value: number, name: string, integer = false): number {
  if (typeof value !== 'number' || !(value > 0) || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be a positive ${integer ? 'integer' : 'number'}`)
  }
  return value
}

function stringArray (value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new TypeError(`${name} must be an array of strings`)
  return value
}

function multiaddrArray (value: unknown, name: string): string[] {
  for (const address of stringArray(value, name)) {
    try {
      multiaddr(address)
    } catch {
      throw new TypeError(`${name}: not a multiaddr: ${address}`)
    }
  }
  return value as string[]
}

/** Peer ids, each checked (TypeError naming the bad one). */
export function peerIdArray (value: unknown, name: string): string[] {
  for (const id of stringArray(value, name)) {
    try {
      peerIdFromString(id)
    } catch {
      throw new TypeError(`${name}: not a peer id: ${id}`)
    }
  }
  return value as string[]
}

/** True for a listen multiaddr on 127.0.0.0/8 or ::1 only. */
export function isLoopbackListen (address: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1\//.test(address)
}

/** The host name made a valid node name. */
export function defaultNodeName (hostname = os.hostname()): string {
  const name = hostname.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, MAX_NAME)
  return name.length === 0 ? 'node' : name
}

/** Applies defaults once and rejects wrong types with TypeError. */
export function resolveOptions (options: SwarmNodeOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
  for (const [k, v] of Object.entries(timeouts)) positive(v, `timeouts.${k}`)
  const costs = { ...DEFAULT_COSTS, ...options.costs }
  for (const [k, v] of Object.entries(costs)) positive(v, `costs.${k}`)
  const peerLimits = { ...DEFAULTS.peerLimits, ...options.peerLimits }
  for (const [k, v] of Object.entries(peerLimits)) positive(v, `peerLimits.${k}`, true)
  const numWorkers = positive(options.numWorkers ?? DEFAULTS.numWorkers, 'numWorkers', true)
  const addressPolicy = options.addressPolicy ?? DEFAULTS.addressPolicy
  if (!['all', 'private', 'public'].includes(addressPolicy)) throw new TypeError("addressPolicy must be 'all', 'private' or 'public'")
  const connectionLimits = { ...DEFAULTS.connectionLimits, ...options.connectionLimits }
  for (const [k, v] of Object.entries(connectionLimits)) positive(v, `connectionLimits.${k}`, true)
  const pipeListenIp = options.pipeListenIp ?? DEFAULTS.pipeListenIp
  const listen = stringArray(options.listen ?? [...DEFAULTS.listen], 'listen')
  const allowPeers = options.allowPeers === undefined ? undefined : peerIdArray(options.allowPeers, 'allowPeers')
  const name = options.name ?? defaultNodeName()
  if (!isNodeName(name)) throw new TypeError(`name must be 1-${MAX_NAME} characters of [A-Za-z0-9._-]`)
  const openSwarm = options.openSwarm ?? false
  if (typeof openSwarm !== 'boolean') throw new TypeError('openSwarm must be a boolean')
  // An open swarm on a reachable address is anyone's: say so in the code that asks for it.
  if (!openSwarm && options.swarmKeyFile === undefined && allowPeers === undefined && !listen.every(isLoopbackListen)) {
    throw new TypeError(`listen ${listen.filter((a) => !isLoopbackListen(a)).join(', ')} is not loopback: give swarmKeyFile or allowPeers, or openSwarm: true to let anyone who reaches it join`)
  }
  return {
    listen,
    announce: stringArray(options.announce ?? [], 'announce'),
    bootstrap: multiaddrArray(options.bootstrap ?? [], 'bootstrap'),
    identityFile: options.identityFile,
    name,
    swarmKeyFile: options.swarmKeyFile,
    allowPeers,
    openSwarm,
    protocolPrefix: options.protocolPrefix ?? DEFAULTS.protocolPrefix,
    addressPolicy,
    numWorkers,
    workerSettings: options.workerSettings ?? {},
    pipeListenIp,
    pipeAnnouncedIp: options.pipeAnnouncedIp ?? pipeListenIp,
    timeouts,
    costs,
    capacity: positive(options.capacity ?? defaultCapacity(numWorkers), 'capacity'),
    fanout: positive(options.fanout ?? DEFAULTS.fanout, 'fanout', true),
    recruitReserve: options.recruitReserve ?? costs.videoPipe,
    maxRedirects: positive(options.maxRedirects ?? DEFAULTS.maxRedirects, 'maxRedirects', true),
    maxConnections: positive(options.maxConnections ?? DEFAULTS.maxConnections, 'maxConnections', true),
    relayMediaCodecs: options.relayMediaCodecs ?? DEFAULT_RELAY_CODECS,
    peerLimits,
    connectionLimits
  }
}
