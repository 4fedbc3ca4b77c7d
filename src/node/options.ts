// Public options of createSwarmNode(), each with its default (also in docs/api.md).
import type { AddressPolicy } from '../p2p/host.js'
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
}

export interface SwarmTimeouts {
  /** How long pipeToRouter() keeps looking for an unknown producer before ProducerNotFoundError. Default 5000. */
  lookup: number
  /** Deadline of one node-to-node request. Default 3000. */
  request: number
  /** A pipe whose other side never connects is closed after this. Default 10000. */
  pipeConnect: number
  /** libp2p ping period; a vanished peer is noticed within about two periods. Default 2000. */
  ping: number
  /** Lifetime of a DHT provider record (re-announced every validity/4). Default 120000. */
  providerValidity: number
  /** Dial timeout for a peer. Default 3000. */
  dial: number
}

export const DEFAULT_TIMEOUTS: SwarmTimeouts = {
  lookup: 5000,
  request: 3000,
  pipeConnect: 10_000,
  ping: 2000,
  providerValidity: 120_000,
  dial: 3000
}

export type ResolvedOptions = Required<Omit<SwarmNodeOptions, 'identityFile' | 'swarmKeyFile' | 'pipeAnnouncedIp' | 'timeouts'>> &
  Pick<SwarmNodeOptions, 'identityFile' | 'swarmKeyFile'> & { pipeAnnouncedIp: string, timeouts: SwarmTimeouts }

function stringArray (value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new TypeError(`${name} must be an array of strings`)
  return value
}

/** Applies defaults once and rejects wrong types with TypeError. */
export function resolveOptions (options: SwarmNodeOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
  for (const [k, v] of Object.entries(timeouts)) {
    if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`timeouts.${k} must be a positive number`)
  }
  const numWorkers = options.numWorkers ?? 1
  if (!Number.isInteger(numWorkers) || numWorkers < 1) throw new TypeError('numWorkers must be a positive integer')
  const addressPolicy = options.addressPolicy ?? 'all'
  if (!['all', 'private', 'public'].includes(addressPolicy)) throw new TypeError("addressPolicy must be 'all', 'private' or 'public'")
  const pipeListenIp = options.pipeListenIp ?? '127.0.0.1'
  return {
    listen: stringArray(options.listen ?? ['/ip4/127.0.0.1/tcp/0'], 'listen'),
    announce: stringArray(options.announce ?? [], 'announce'),
    bootstrap: stringArray(options.bootstrap ?? [], 'bootstrap'),
    identityFile: options.identityFile,
    swarmKeyFile: options.swarmKeyFile,
    protocolPrefix: options.protocolPrefix ?? '/mediasoup-swarm',
    addressPolicy,
    numWorkers,
    workerSettings: options.workerSettings ?? {},
    pipeListenIp,
    pipeAnnouncedIp: options.pipeAnnouncedIp ?? pipeListenIp,
    timeouts
  }
}
