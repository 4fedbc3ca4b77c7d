import '../src/platform/promise-with-resolvers.js'
// What one liveness ping costs on the wire: a libp2p ping (`/ipfs/ping/1.0.0`: a new
// stream, its protocol negotiation, 32 bytes each way, the stream's close) against the
// Yamux ping frame the node sends instead (src/p2p/liveness-ping.ts). Two real nodes, alone
// in a network namespace of their own, so that its loopback counters count their packets
// and nothing else; every connected peer gets one per `timeouts.ping`, so this is most of
// a node's traffic at rest. Needs root (ip netns), as swarm-scale does.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { formatTable, sleep, waitFor } from '../test/harness/index.js'
import { heading } from './common.js'
import { createSwarmNode } from '../src/index.js'
import { pingPeer } from '../src/p2p/liveness-ping.js'
import type { Benchmark } from './common.js'
import type { Host } from '../src/p2p/host.js'

const PINGS = 200
/** Between pings: each one's packets (and delayed ACKs) are over before the next. */
const GAP_MS = 20
const INSIDE = 'MSS_PING_COST_INSIDE'

interface Cost { kind: string, bytes: number, packets: number, ms: number }

function loopback (): { bytes: number, packets: number } {
  const read = (name: string): number => Number(fs.readFileSync(`/sys/class/net/lo/statistics/${name}`, 'utf8'))
  return { bytes: read('tx_bytes'), packets: read('tx_packets') }
}

/** Runs inside the namespace: two nodes, PINGS of each kind, the loopback's counters around each series. */
async function measureInside (): Promise<Cost[]> {
  const a = await createSwarmNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] })
  const b = await createSwarmNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: a.multiaddrs })
  try {
    await waitFor(() => a.rtts()[b.peerId] !== undefined && b.rtts()[a.peerId] !== undefined, { what: 'the first pings' })
    // The join's own traffic (identify, the DHT's first walks) is over.
    await sleep(3000)
    const series = async (kind: string, ping: () => Promise<unknown>): Promise<Cost> => {
      const before = loopback()
      const t0 = performance.now()
      for (let i = 0; i < PINGS; i++) {
        await ping()
        await sleep(GAP_MS)
      }
      const after = loopback()
      return { kind, bytes: (after.bytes - before.bytes) / PINGS, packets: (after.packets - before.packets) / PINGS, ms: (performance.now() - t0) / PINGS - GAP_MS }
    }
    const peer = b.libp2p.peerId
    return [
      await series('libp2p ping (/ipfs/ping/1.0.0)', async () => await a.libp2p.services.ping.ping(peer)),
      await series('Yamux ping frame (liveness-ping.ts)', async () => await pingPeer(a.libp2p as Host, peer, AbortSignal.timeout(2000)))
    ]
  } finally {
    await b.stop()
    await a.stop()
  }
}

async function run (): Promise<void> {
  const ns = `mss-ping-${process.pid}`
  const ip = (...args: string[]): void => {
    const r = spawnSync('ip', args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()} (the ping-cost benchmark needs root)`)
  }
  ip('netns', 'add', ns)
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', import.meta.filename], { encoding: 'utf8', env: { ...process.env, [INSIDE]: '1' }, timeout: 120_000 })
    const line = r.stdout.split('\n').find((l) => l.startsWith('['))
    if (r.status !== 0 || line === undefined) throw new Error(`the measurement in ${ns} failed (exit ${String(r.status)}): ${r.stderr.slice(-500)}`)
    const costs = JSON.parse(line) as Cost[]
    heading(`one ping on an open connection, on loopback (${PINGS} of each, ${GAP_MS} ms apart): bytes and packets both ways`)
    console.log(formatTable(costs.map((c) => ({
      ping: c.kind,
      'bytes per ping': c.bytes.toFixed(0),
      'packets per ping': c.packets.toFixed(1),
      'round trip, ms': c.ms.toFixed(2),
      'idle B/s per connection at timeouts.ping = 60 s': (c.bytes / 60).toFixed(1)
    }))))
  } finally {
    spawnSync('ip', ['netns', 'del', ns])
  }
}

if (process.env[INSIDE] === '1') {
  measureInside().then((costs) => {
    console.log(JSON.stringify(costs))
    process.exit(0)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}

export const pingCost: Benchmark = { name: 'ping-cost', title: 'bytes and packets of one liveness ping: libp2p ping against a Yamux ping frame', run }
