import '../src/platform/promise-with-resolvers.js'
// The attacker of bench/connection-floods.ts, in a process of its own so that its work does
// not slow the node it floods: one flood (argv[2], JSON: Flood) against one loopback
// address, from source addresses 127.0.0.2… (each standing for another host), for at most
// `durationMs`. Prints `started` once the flood is under way (the burst sent, or the first
// second of a steady flood), then one JSON line of counts at the end, and exits.
import net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { TCPSocketOptions } from '@libp2p/tcp'

export type Flood =
  /** `connections` idle TCP connections from `ips` addresses, opened at once and held (never reopened). */
  | { kind: 'idle-burst', connections: number, ips: number, host: string, port: number, durationMs: number }
  /** `perSecond` new idle TCP connections a second, over `ips` addresses in turn, each held until closed. */
  | { kind: 'idle-rate', perSecond: number, ips: number, host: string, port: number, durationMs: number }
  /**
   * `connections` libp2p connections from `identities` identities (one address each; they
   * answer identify and ping), each identity keeping its share open: a closed one is
   * dialled again after `redialMs`.
   */
  | { kind: 'sybil', connections: number, identities: number, target: string, redialMs: number, durationMs: number }

export interface FloodCounts {
  /** Connections the flooder opened (TCP connect, or libp2p dial that resolved). */
  opened: number
  /** Attempts that failed (refused, reset, dial errors). */
  failed: number
  /** Opened connections the target closed before the end. */
  closedByTarget: number
  /** Most of the flooder's connections open at once. */
  peakOpen: number
}

const sourceIp = (i: number): string => `127.0.0.${2 + i}`

async function idleFlood (flood: Extract<Flood, { kind: 'idle-burst' | 'idle-rate' }>, counts: FloodCounts, deadline: number, started: () => void): Promise<void> {
  const open = new Set<net.Socket>()
  const connect = (i: number): void => {
    const socket = net.connect({ host: flood.host, port: flood.port, localAddress: sourceIp(i % flood.ips) })
    let connected = false
    socket.on('connect', () => {
      connected = true
      counts.opened++
      open.add(socket)
      counts.peakOpen = Math.max(counts.peakOpen, open.size)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (!connected) counts.failed++
      else if (open.delete(socket) && performance.now() < deadline) counts.closedByTarget++
    })
  }
  if (flood.kind === 'idle-burst') {
    for (let i = 0; i < flood.connections; i++) connect(i)
    // Time for the connections to be accepted: the flood is then in place.
    setTimeout(started, 500)
  } else {
    let n = 0
    const timer = setInterval(() => {
      for (let k = 0; k < flood.perSecond / 10; k++) connect(n++)
    }, 100)
    setTimeout(started, 1000)
    await new Promise((resolve) => setTimeout(resolve, deadline - performance.now()))
    clearInterval(timer)
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())))
  for (const s of open) s.destroy()
}

async function sybilFlood (flood: Extract<Flood, { kind: 'sybil' }>, counts: FloodCounts, deadline: number, started: () => void): Promise<void> {
  const target = multiaddr(flood.target)
  let open = 0
  const nodes = await Promise.all(Array.from({ length: flood.identities }, async (_, i) => await createLibp2p({
    // net.connect() takes localAddress; @libp2p/tcp passes dialOpts through to it.
    transports: [tcp({ dialOpts: { localAddress: sourceIp(i) } as TCPSocketOptions })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    connectionManager: { maxConnections: 1000, reconnectRetries: 0 },
    services: { identify: identify(), ping: ping() }
  })))
  const share = (i: number): number => Math.floor(flood.connections / flood.identities) + (i < flood.connections % flood.identities ? 1 : 0)
  /** Keeps one connection of identity `i` open until the deadline. */
  const keep = async (i: number): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        const connection = await nodes[i]!.dial(target, { force: true, signal: AbortSignal.timeout(5000) })
        counts.opened++
        counts.peakOpen = Math.max(counts.peakOpen, ++open)
        await new Promise<void>((resolve) => {
          connection.addEventListener('close', () => resolve(), { once: true })
          setTimeout(resolve, Math.max(0, deadline - performance.now())).unref()
        })
        open--
        if (connection.status !== 'open' && performance.now() < deadline) counts.closedByTarget++
      } catch {
        counts.failed++
      }
      await new Promise((resolve) => setTimeout(resolve, flood.redialMs * (0.5 + Math.random())))
    }
  }
  // One dial after the other per identity: libp2p merges concurrent dials of one peer.
  const runs = nodes.map(async (_, i) => {
    const chains: Array<Promise<void>> = []
    for (let k = 0; k < share(i); k++) {
      chains.push(keep(i))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await Promise.all(chains)
  })
  setTimeout(started, 1000)
  await Promise.all(runs)
  await Promise.all(nodes.map(async (n) => await n.stop()))
}

async function main (): Promise<void> {
  const flood = JSON.parse(process.argv[2]!) as Flood
  const deadline = performance.now() + flood.durationMs
  const counts: FloodCounts = { opened: 0, failed: 0, closedByTarget: 0, peakOpen: 0 }
  const started = (): void => { process.stdout.write('started\n') }
  if (flood.kind === 'sybil') await sybilFlood(flood, counts, deadline, started)
  else await idleFlood(flood, counts, deadline, started)
  process.stdout.write(`${JSON.stringify(counts)}\n`)
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack}\n`)
  process.exit(1)
})
