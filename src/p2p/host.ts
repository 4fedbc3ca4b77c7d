// The libp2p host of a node: TCP + Noise + Yamux, identify, ping, a private Kademlia DHT in
// server mode, and optionally a pre-shared-key private network.
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { noiseCrypto } from './noise-crypto.js'
import { yamuxHalfWindowUpdates } from './yamux-window.js'
import { wholeWrites } from './whole-writes.js'
import { ConnectionTrimmer, HARD_LIMIT_FACTOR } from './connection-trimmer.js'
import { ListenError } from '../errors.js'
import { DEFAULTS } from '../node/options.js'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

/** Which peer addresses the DHT keeps: see `SwarmNodeOptions.addressPolicy`. */
export type AddressPolicy = 'all' | 'private' | 'public'

export interface HostInit {
  privateKey: PrivateKey
  listen: string[]
  announce: string[]
  swarmKey?: Uint8Array
  protocolPrefix: string
  addressPolicy: AddressPolicy
  providerValidityMs: number
  reprovideIntervalMs: number
  dialTimeoutMs: number
  /**
   * Connections kept at rest: past it the lowest-valued are closed (pipe peers are tagged
   * above the DHT's); inbound ones are refused only past HARD_LIMIT_FACTOR times it.
   */
  maxConnections: number
  /** Who may connect (PeerGate.gater()). Default: anyone. */
  gater?: ConnectionGater
  /** Inbound connections in their handshake at once, in all. Default: the node's (options.ts). */
  maxPendingInbound?: number
  /** Deadline of an inbound connection's handshake (swarm key, Noise, Yamux). Default: the node's. */
  handshakeTimeoutMs?: number
  /** The identify agent version (it carries the node's name: peer-names.ts). Default libp2p's. */
  agentVersion?: string
}

export type Host = Libp2p<{ dht: KadDHT, ping: Ping, identify: Identify }>

const DHT_ALPHA = 3
/**
 * kad-dht's k: the closest peers a walk must have heard from before it ends, the peers a
 * provider record is stored on, and the peers per bucket (default 20). A walk starts by
 * asking the k closest of the table, so with k = 20 every walk asked ≥ 20 nodes, most of
 * a swarm of tens, and its cost grew with N up to N ≈ 100; with 8 it is about 8-12 asked.
 * The table still splits buckets down to 64 prefixes (512 peers), and the directory's homes
 * are not the DHT's (docs/benchmarks.md, sections 4 and 6).
 */
export const DHT_K = 8
/**
 * kad-dht's upkeep walks: a look-up of the node's own id, and one per common-prefix length
 * of its routing table (≈ log2 N + 1) to refresh it (which 16.4.5 never runs: see
 * createHost), each every 5 min by default. A walk
 * is ≈ 40 messages and some dials (45-120 KiB on the wire at N = 10-25): at N = 50 that
 * default alone is ≈ 2 KB/s per node. Every 30 min instead: the table also learns from
 * every connection and every walk that passes (docs/benchmarks.md, section 6).
 */
export const DHT_UPKEEP_INTERVAL_MS = 30 * 60_000

const PEER_INFO_MAPPERS = {
  all: passthroughMapper,
  private: removePublicAddressesMapper,
  public: removePrivateAddressesMapper
}

/**
 * Starts `host` (listening); a listen failure becomes a ListenError naming the addresses.
 * Register protocol handlers before: a peer may open a stream at once.
 */
export async function startHost (host: Host, listen: string[]): Promise<void> {
  try {
    await host.start()
  } catch (err) {
    if ((err as Error).name !== 'UnsupportedListenAddressesError') throw err
    const message = (err as Error).message
    const reason = /EADDRINUSE/.test(message) ? 'address in use' : /EADDRNOTAVAIL/.test(message) ? 'address not available on this host' : 'not supported'
    throw new ListenError(listen, reason)
  }
}

/** A libp2p host, not started (see startHost()). */
export async function createHost (init: HostInit): Promise<Host> {
  const host = await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    ...(init.agentVersion === undefined ? {} : { nodeInfo: { userAgent: init.agentVersion } }),
    addresses: { listen: init.listen, announce: init.announce },
    transports: [tcp()],
    // Each Noise message in one TCP segment, not 3-4 (whole-writes.ts says why); its key
    // exchanges without OpenSSL's slow key decoding (noise-crypto.ts).
    connectionEncrypters: [wholeWrites(noise({ crypto: noiseCrypto }))],
    // No Yamux keep-alive pings: the PeerMonitor pings every peer already, and each
    // keep-alive is 4 packets per connection per 30 s, a tenth of the idle traffic at 25 nodes.
    // Window updates at half the window (yamux-window.ts says why).
    streamMuxers: [yamuxHalfWindowUpdates({ enableKeepAlive: false })],
    // Loaded for a private swarm only: it compiles xsalsa20's WebAssembly, ≈ 1.3 MB of
    // every node's memory otherwise.
    connectionProtector: init.swarmKey === undefined ? undefined : (await import('@libp2p/pnet')).preSharedKey({ psk: init.swarmKey }),
    // Liveness and RTTs are the PeerMonitor's (peer-monitor.ts says why).
    connectionMonitor: { enabled: false },
    // Redialling is the BootstrapKeeper's: libp2p's own reconnect queue (for peers the DHT
    // tags keep-alive) retries on the same schedule, and two simultaneous dials to one peer
    // end in a duplicate connection that libp2p aborts, sometimes under the DHT's
    // routing-table check of that peer, which then never lists it.
    connectionManager: {
      dialTimeout: init.dialTimeoutMs,
      reconnectRetries: 0,
      maxConnections: init.maxConnections * HARD_LIMIT_FACTOR,
      maxIncomingPendingConnections: init.maxPendingInbound ?? DEFAULTS.connectionLimits.pendingInbound,
      // The bound per IP is the gater's (peer-gate.ts): libp2p's would refuse the nodes of one
      // host too, which all dial from 127.0.0.1 (30 starting together failed to join).
      inboundConnectionThreshold: Number.MAX_SAFE_INTEGER,
      inboundUpgradeTimeout: init.handshakeTimeoutMs ?? DEFAULTS.connectionLimits.handshakeTimeoutMs
    },
    connectionGater: init.gater,
    services: {
      identify: identify(),
      // Room for a ping of each side plus one that is still closing.
      ping: ping({ maxInboundStreams: 4, maxOutboundStreams: 2 }),
      dht: kadDHT({
        // A private protocol id keeps the swarm out of the public IPFS DHT.
        protocol: `${init.protocolPrefix}/kad/1.0.0`,
        clientMode: false,
        peerInfoMapper: PEER_INFO_MAPPERS[init.addressPolicy],
        initialQuerySelfInterval: 0,
        querySelfInterval: DHT_UPKEEP_INTERVAL_MS,
        // A walk asks 3 peers at a time on one path (defaults 10 and 10): on a swarm of tens
        // of nodes the defaults ask every node, several times, for every lookup.
        alpha: DHT_ALPHA,
        disjointPaths: 1,
        kBucketSize: DHT_K,
        reprovide: {
          validity: init.providerValidityMs,
          interval: init.reprovideIntervalMs,
          threshold: init.providerValidityMs / 2
        }
      })
    }
  })
  // kad-dht has no option for its table refresh period (5 min); its field is set instead.
  // kad-dht 16.4.5 never runs that refresh (its RoutingTableRefresh has no start(), so the
  // start() of kad-dht skips its afterStart): the period holds for a version that does.
  const refresh = (host.services.dht as unknown as { routingTableRefresh?: { refreshInterval?: number } }).routingTableRefresh
  if (refresh?.refreshInterval !== undefined) refresh.refreshInterval = DHT_UPKEEP_INTERVAL_MS
  // kad-dht keeps its 20 peers closest to this node connected (a tag libp2p keeps alive,
  // never trimmed) and passes no option for how many: at 32 connections that left 12 for
  // everything else (the homes' re-announcements dialled again every minute). Its k is enough.
  const closest = (host.services.dht as unknown as { routingTable?: { closestPeerTagger?: { peerSetSize?: number } } }).routingTable?.closestPeerTagger
  if (closest?.peerSetSize !== undefined) closest.peerSetSize = DHT_K
  // libp2p's own limit refuses every inbound connection once reached: it is set higher, and
  // the trimmer keeps the node at maxConnections (connection-trimmer.ts says why).
  const trimmer = new ConnectionTrimmer(host, init.maxConnections)
  host.addEventListener('start', () => trimmer.start())
  host.addEventListener('stop', () => trimmer.stop())
  return host
}
