import '../src/platform/promise-with-resolvers.js'
// How long a flood of connections keeps a legitimate new node out (issue 11's three floods):
// a target node on 127.0.0.1 in this process, a flooder process (connection-floods-flooder.ts)
// whose source addresses 127.0.0.2… stand for other hosts, and a newcomer node that
// bootstraps from the target once the flood is under way. Time to join: from the newcomer's
// createSwarmNode() call until each node lists the other as a peer (capped at JOIN_CAP_MS).
// The idle floods are also run against a target with libp2p's own defaults (10 pending
// handshakes, 10 s handshake deadline, no per-IP bound), as the probe found them.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createSwarmNode } from '../src/index.js'
import { formatTable } from '../test/harness/index.js'
import { ErrorLog, heading } from './common.js'
import type { Benchmark } from './common.js'
import type { Flood, FloodCounts } from './connection-floods-flooder.js'
import type { ConnectionLimits, SwarmNode } from '../src/index.js'
import type { TableRow } from '../test/harness/report.js'

/** The bar: a flood keeps a newcomer out a few seconds at most. */
const TARGET_MS = 3000
/** A newcomer not in by then is reported as "> cap". */
const JOIN_CAP_MS = 20_000
const FLOOD_MS = 20_000
/** The steady floods run this long before the newcomer starts. */
const STEADY_AFTER_MS = 5000
const FLOODER = path.join(import.meta.dirname, 'connection-floods-flooder.ts')

/** libp2p's own defaults for what ConnectionLimits sets, and no per-IP or per-peer bound. */
const LIBP2P_DEFAULTS: ConnectionLimits = { pendingInbound: 10, pendingInboundPerIp: 1_000_000, inboundPerIpPerSecond: 5, handshakeTimeoutMs: 10_000, perPeer: 1_000_000 }

interface Scenario {
  name: string
  /** What the probe of issue 11 measured before these limits. */
  before: string
  flood?: (target: SwarmNode) => Flood
  limits?: Partial<ConnectionLimits>
}

function tcpOf (node: SwarmNode): { host: string, port: number } {
  const parts = multiaddr(node.multiaddrs[0]!).getComponents()
  return { host: parts.find((c) => c.name === 'ip4')!.value!, port: Number(parts.find((c) => c.name === 'tcp')!.value) }
}

const idleBurst = (target: SwarmNode): Flood => ({ kind: 'idle-burst', connections: 300, ips: 30, ...tcpOf(target), durationMs: FLOOD_MS })
const idleRate = (target: SwarmNode): Flood => ({ kind: 'idle-rate', perSecond: 40, ips: 60, ...tcpOf(target), durationMs: FLOOD_MS })
const sybil = (target: SwarmNode): Flood => ({ kind: 'sybil', connections: 299, identities: 60, target: target.multiaddrs[0]!, redialMs: 2000, durationMs: FLOOD_MS })

const SCENARIOS: Scenario[] = [
  { name: 'no flood', before: '' },
  { name: '300 idle TCP connections from 30 IPs, at once', before: '13.6 s', flood: idleBurst },
  { name: '40 idle TCP connections/s from 60 IPs, 20 s', before: '> 20 s (the whole flood)', flood: idleRate },
  { name: '299 libp2p connections from 60 identities (identify, ping)', before: 'as long as they stay', flood: sybil },
  { name: '300 idle at once, libp2p defaults', before: '13.6 s', flood: idleBurst, limits: LIBP2P_DEFAULTS },
  { name: '40 idle/s from 60 IPs, libp2p defaults', before: '> 20 s', flood: idleRate, limits: LIBP2P_DEFAULTS }
]

interface Flooder {
  started: Promise<void>
  /** Resolves with the flooder's counts when it has exited. */
  done: Promise<FloodCounts | undefined>
  kill: () => void
}

function startFlooder (flood: Flood, errors: ErrorLog): Flooder {
  const child = spawn(process.execPath, ['--import', 'tsx', FLOODER, JSON.stringify(flood)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const started = Promise.withResolvers<void>()
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (stdout.includes('started\n')) started.resolve()
  })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const done = new Promise<FloodCounts | undefined>((resolve) => child.once('exit', (code) => {
    started.resolve()
    if (code !== 0) errors.add(0, `flooder exited with ${code}: ${stderr.slice(0, 300)}`)
    const last = stdout.trim().split('\n').at(-1) ?? ''
    resolve(last.startsWith('{') ? JSON.parse(last) as FloodCounts : undefined)
  }))
  return { started: started.promise, done, kill: () => { if (child.exitCode === null) child.kill('SIGKILL') } }
}

async function joinTime (target: SwarmNode, nodes: SwarmNode[]): Promise<number> {
  const t0 = performance.now()
  const newcomer = await createSwarmNode({ bootstrap: target.multiaddrs })
  nodes.push(newcomer)
  while (performance.now() - t0 < JOIN_CAP_MS) {
    if (target.peers.includes(newcomer.peerId) && newcomer.peers.includes(target.peerId)) return performance.now() - t0
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Infinity
}

async function runScenario (scenario: Scenario, errors: ErrorLog): Promise<TableRow> {
  const nodes: SwarmNode[] = []
  let flooder: Flooder | undefined
  try {
    const target = await createSwarmNode({ connectionLimits: scenario.limits })
    nodes.push(target)
    let peakConnections = 0
    const sampler = setInterval(() => { peakConnections = Math.max(peakConnections, target.libp2p.getConnections().length) }, 50)
    if (scenario.flood !== undefined) {
      flooder = startFlooder(scenario.flood(target), errors)
      await flooder.started
      if (scenario.flood !== idleBurst) await new Promise((resolve) => setTimeout(resolve, STEADY_AFTER_MS - 1000))
    }
    const ms = await joinTime(target, nodes)
    const counts = await flooder?.done
    clearInterval(sampler)
    const refusals = Object.entries(target.peerRefusalCounts).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ')
    return {
      flood: scenario.name,
      'time to join ms': Number.isFinite(ms) ? Math.round(ms) : `> ${JOIN_CAP_MS}`,
      target: `≤ ${TARGET_MS}`,
      'before (probe)': scenario.before,
      'flooder opened': counts?.opened ?? '',
      'closed by target': counts?.closedByTarget ?? '',
      'peak target connections': peakConnections,
      'target refusals': refusals
    }
  } finally {
    flooder?.kill()
    await Promise.all(nodes.map(async (n) => await n.stop()))
  }
}

export const connectionFloods: Benchmark = {
  name: 'connection-floods',
  title: 'time for a new node to join a node under floods of idle TCP connections and of Sybil libp2p connections',
  async run () {
    const errors = new ErrorLog()
    const rows: TableRow[] = []
    for (const scenario of SCENARIOS) rows.push(await runScenario(scenario, errors))
    heading(`time to join (newcomer's createSwarmNode() until both list each other), ms; target ≤ ${TARGET_MS} ms; floods from 127.0.0.2…`)
    console.log(formatTable(rows, 0))
    errors.print('connection floods')
  }
}
