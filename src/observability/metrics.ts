// Prometheus metrics of one node (prom-client, a registry per node). Gauges are read from
// the node at scrape time; latencies and errors are recorded as they happen. Knows
// nothing about HTTP: the binary serves `registry.metrics()`.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SwarmNode } from '../index.js'
import type { types as ms } from 'mediasoup'

export interface NodeMetrics {
  registry: Registry
  /** Stops listening to the node. */
  close: () => void
}

/** How long a scrape waits for mediasoup's stats before reporting what it has. */
const STATS_TIMEOUT_MS = 1000

async function withTimeout<T> (promise: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), STATS_TIMEOUT_MS) })
  try {
    return await Promise.race([promise.catch(() => fallback), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function createNodeMetrics (node: SwarmNode): NodeMetrics {
  const registry = new Registry()
  const transports = new Set<ms.Transport>()
  const consumers = new Set<ms.Consumer>()
  // Cumulative forwarded packets/bytes: deltas of each consumer's counters between scrapes.
  const lastSeen = new Map<string, { packets: number, bytes: number }>()

  const track = (router: ms.Router): void => {
    router.observer.on('newtransport', (transport) => {
      transports.add(transport)
      transport.observer.once('close', () => transports.delete(transport))
      transport.observer.on('newconsumer', (consumer) => {
        consumers.add(consumer)
        consumer.observer.once('close', () => { consumers.delete(consumer); lastSeen.delete(consumer.id) })
      })
    })
  }
  for (const router of node.routers()) track(router)
  node.on('newrouter', track)

  new Gauge({ name: 'swarm_peers', help: 'Connected swarm peers', registers: [registry], collect () { this.set(node.peers.length) } })
  new Gauge({
    name: 'swarm_producers',
    help: 'Producers on this node: created here (local) or received from another node (piped)',
    labelNames: ['type'],
    registers: [registry],
    collect () {
      let local = 0
      let piped = 0
      for (const id of node.producerIds()) {
        if (node.getDistribution(id)?.upstream === null) local++
        else piped++
      }
      this.set({ type: 'local' }, local)
      this.set({ type: 'piped' }, piped)
    }
  })
  new Gauge({
    name: 'swarm_consumers',
    help: 'Consumers on this node, by kind (pipe = sending to another node)',
    labelNames: ['type'],
    registers: [registry],
    collect () {
      const counts = { audio: 0, video: 0, pipe: 0 }
      for (const c of consumers) counts[c.type === 'pipe' ? 'pipe' : c.kind]++
      for (const [type, n] of Object.entries(counts)) this.set({ type }, n)
    }
  })
  new Gauge({
    name: 'swarm_pipes',
    help: 'Cross-node pipes: up = receiving from another node, down = sending to another node',
    labelNames: ['direction'],
    registers: [registry],
    collect () {
      const stats = node.pipeStats
      this.set({ direction: 'up' }, stats.incomingPipes)
      this.set({ direction: 'down' }, stats.outgoingPipes)
    }
  })
  new Gauge({ name: 'swarm_load_points', help: 'Load in scaling points', registers: [registry], collect () { this.set(node.capacity.load) } })
  new Gauge({ name: 'swarm_capacity_points', help: 'Capacity in scaling points', registers: [registry], collect () { this.set(node.capacity.capacity) } })

  const forwardedPackets = new Counter({ name: 'swarm_forwarded_packets_total', help: 'RTP packets sent by this node\'s consumers (local and pipe), from mediasoup stats', registers: [registry] })
  const forwardedBytes = new Counter({ name: 'swarm_forwarded_bytes_total', help: 'RTP bytes sent by this node\'s consumers (local and pipe), from mediasoup stats', registers: [registry] })
  new Gauge({
    name: 'swarm_transport_bytes',
    help: 'Bytes received and sent by the open transports of this node (mediasoup stats)',
    labelNames: ['direction'],
    registers: [registry],
    async collect () {
      let received = 0
      let sent = 0
      const all = await Promise.all([...transports].map(async (t) => await withTimeout(t.getStats(), [])))
      for (const stats of all) for (const s of stats) { received += s.bytesReceived; sent += s.bytesSent }
      this.set({ direction: 'received' }, received)
      this.set({ direction: 'sent' }, sent)
      // Forwarded counters are brought up to date at the same time.
      await Promise.all([...consumers].map(async (consumer) => {
        const stats = await withTimeout(consumer.getStats(), [])
        const outbound = stats.find((s) => s.type === 'outbound-rtp')
        if (outbound === undefined) return
        const previous = lastSeen.get(consumer.id) ?? { packets: 0, bytes: 0 }
        forwardedPackets.inc(Math.max(0, outbound.packetCount - previous.packets))
        forwardedBytes.inc(Math.max(0, outbound.byteCount - previous.bytes))
        lastSeen.set(consumer.id, { packets: outbound.packetCount, bytes: outbound.byteCount })
      }))
    }
  })

  const lookup = new Histogram({
    name: 'swarm_lookup_seconds',
    help: 'Time to find a node that has a remote producer (location cache or DHT)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  const setup = new Histogram({
    name: 'swarm_pipe_setup_seconds',
    help: 'Time from the start of a pull to the copy existing on this node',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  const onPulled = ({ lookupMs, totalMs }: { lookupMs: number, totalMs: number }): void => {
    lookup.observe(lookupMs / 1000)
    setup.observe(totalMs / 1000)
  }
  node.on('pulled', onPulled)

  const errors = new Counter({ name: 'swarm_errors_total', help: 'Background errors of the node, by error name', labelNames: ['kind'], registers: [registry] })
  const onError = (err: Error): void => { errors.inc({ kind: err.name }) }
  node.on('error', onError)
  new Gauge({
    name: 'swarm_bad_messages',
    help: 'Invalid messages received from other nodes since start, by error code',
    labelNames: ['code'],
    registers: [registry],
    collect () {
      for (const [code, n] of Object.entries(node.protocolErrorCounts)) this.set({ code }, n ?? 0)
    }
  })

  return {
    registry,
    close: () => {
      node.off('newrouter', track)
      node.off('pulled', onPulled)
      node.off('error', onError)
    }
  }
}
