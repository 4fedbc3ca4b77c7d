// Prometheus metrics of one node (prom-client, one Registry per node, never the global
// one). Gauges and traffic counters are read at scrape time (mediasoup's counters with a
// deadline); latencies and errors are recorded as they happen. Every metric is listed in
// docs/metrics.md. Knows nothing about HTTP: the binary serves `registry.metrics()`.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { PROTOCOL_VERSION } from '../protocol/messages.js'
import { MediaTracker, TRANSPORT_KINDS } from './media-tracker.js'
import { MEDIA_KINDS, STREAM_ROLES } from './media-sampler.js'
import type { QualityFigures, RtpCounts } from './media-quality.js'
import type { KindFigures } from './media-sampler.js'
import type { ByTransportKind, Traffic } from './media-tracker.js'
import type { PullTiming, SwarmNode } from '../node/swarm-node.js'
import type { Request } from '../protocol/messages.js'
import type { ProtocolErrorCode } from '../errors.js'
import { REFUSAL_REASONS } from '../signalling/client-limits.js'
import type { types as ms } from 'mediasoup'

/** How long a scrape waits for mediasoup's counters before reporting what it has. Default. */
export const STATS_TIMEOUT_MS = 1000
/** Scrapes this close together share one read of mediasoup's counters. */
const TRAFFIC_REUSE_MS = 250

export interface NodeMetricsOptions {
  /** Traffic source; default one made here (and closed by close()). */
  media?: MediaTracker
  /** Deadline of mediasoup stats at each scrape, ms. Default STATS_TIMEOUT_MS. */
  statsTimeoutMs?: number
  /** Reported in mediasoup_swarm_info. */
  version?: string
}

/** What the metrics read from client signalling (src/signalling's ClientSignalling has it). */
export interface SignallingStats {
  readonly connectionCount: number
  readonly errorCounts: Readonly<Record<string, number>>
  readonly refusedConnections: number
  /** Connections and requests refused, by reason (REFUSAL_REASONS). */
  readonly refusals?: Readonly<Record<string, number>>
}

export interface NodeMetrics {
  registry: Registry
  /**
   * Records one `node.pipeToRouter()` call made by the application (the binary records
   * those of its signalling): its duration and its error, if it failed.
   */
  observePipeToRouter: (seconds: number, error?: unknown) => void
  /** Adds connection and error counts of client signalling. */
  watchSignalling: (signalling: SignallingStats) => void
  /** Stops listening to the node. Idempotent. */
  close: () => void
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Every request type, so that each series exists at 0 before the first request (a Record: the compiler finds a missing one). */
const REQUEST_TYPES: Record<Request['type'], true> = {
  pull: true, status: true, recruit: true, 'connect-pipe': true, 'producer-event': true, release: true, 'close-pipe': true, move: true, announce: true, locate: true, 'room-producers': true, tree: true
}
/** The protocol errors a node counts, each series at 0 from the start. */
const PROTOCOL_ERROR_CODES: Record<ProtocolErrorCode, true> = { 'bad-message': true, 'too-large': true, 'unknown-type': true }

/** Media-quality counters: per pipe (`mediasoup_swarm_pipe_<name>`) and per kind (`mediasoup_swarm_rtp_<name>`). */
const QUALITY_COUNTERS: Array<{ name: string, help: string, key: keyof RtpCounts }> = [
  { name: 'packets_total', help: 'RTP packets (received by producers, sent by consumers)', key: 'packets' },
  { name: 'bytes_total', help: 'RTP bytes (received by producers, sent by consumers)', key: 'bytes' },
  { name: 'packets_lost_total', help: 'RTP packets lost (seen missing by producers, reported by the receivers of consumers)', key: 'packetsLost' },
  { name: 'nacks_total', help: 'NACK messages (sent by producers, received by consumers)', key: 'nacks' },
  { name: 'plis_total', help: 'PLI messages (sent by producers, received by consumers)', key: 'plis' },
  { name: 'firs_total', help: 'FIR messages (sent by producers, received by consumers)', key: 'firs' }
]
/** Media-quality gauges, over the last sampling period. */
const QUALITY_GAUGES: Array<{ name: string, help: string, pick: (f: QualityFigures) => number | null }> = [
  { name: 'bitrate_bps', help: 'RTP bitrate in bits per second over the last sampling period (sum of the streams)', pick: (f) => f.bitrateBps },
  { name: 'packet_loss_ratio', help: 'Packets lost / packets expected over the last sampling period (all streams together)', pick: (f) => f.packetLossFraction },
  { name: 'jitter_seconds', help: 'Interarrival jitter of received streams (the highest)', pick: (f) => f.jitterMs === null ? null : f.jitterMs / 1000 },
  { name: 'rtt_seconds', help: 'Round-trip time from RTCP reports (the highest of the streams)', pick: (f) => f.rttMs === null ? null : f.rttMs / 1000 },
  { name: 'score', help: 'mediasoup stream score, 0 (worst) to 10 (the lowest of the streams)', pick: (f) => f.score }
]

export function createNodeMetrics (node: SwarmNode, options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry()
  const media = options.media ?? new MediaTracker(node)
  const statsTimeoutMs = options.statsTimeoutMs ?? STATS_TIMEOUT_MS
  const signalling: SignallingStats[] = []
  const nodeErrors = new Map<string, number>()
  const registers = [registry]

  // One read of mediasoup's counters serves every traffic metric of a scrape.
  let traffic: { at: number, result: Promise<Traffic> } | undefined
  const statsIncomplete = new Counter({
    name: 'mediasoup_swarm_stats_incomplete_total',
    help: 'Scrapes for which some mediasoup counters did not answer in time (they kept their previous values)',
    registers
  })
  const readTraffic = async (): Promise<Traffic> => {
    if (traffic === undefined || performance.now() - traffic.at > TRAFFIC_REUSE_MS) {
      const result = media.traffic(statsTimeoutMs).then((t) => {
        if (!t.complete) statsIncomplete.inc()
        return t
      })
      traffic = { at: performance.now(), result }
    }
    return await traffic.result
  }
  const trafficCounter = (name: string, help: string, pick: (t: Traffic) => ByTransportKind): void => {
    new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers,
      async collect () {
        const totals = pick(await readTraffic())
        this.reset()
        for (const transport of TRANSPORT_KINDS) this.inc({ transport }, totals[transport])
      }
    })
  }

  new Gauge({
    name: 'mediasoup_swarm_info',
    help: 'Always 1; labels say which node this is',
    labelNames: ['peer_id', 'version', 'protocol_version'],
    registers,
    collect () { this.set({ peer_id: node.peerId, version: options.version ?? 'unknown', protocol_version: PROTOCOL_VERSION }, 1) }
  })
  // CPU and memory of each mediasoup worker process (getrusage in the worker), with the
  // stats deadline: a stuck worker must not hold up the scrape.
  const workerUsage = async (): Promise<Array<ms.WorkerResourceUsage | undefined>> => await Promise.all(node.workers().map(async (worker) =>
    await Promise.race([worker.getResourceUsage(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), statsTimeoutMs).unref())]).catch(() => undefined)))
  let usage: { at: number, result: Promise<Array<ms.WorkerResourceUsage | undefined>> } | undefined
  const readUsage = async (): Promise<Array<ms.WorkerResourceUsage | undefined>> => {
    if (usage === undefined || performance.now() - usage.at > TRAFFIC_REUSE_MS) usage = { at: performance.now(), result: workerUsage() }
    return await usage.result
  }
  new Counter({
    name: 'mediasoup_swarm_worker_cpu_seconds_total',
    help: 'CPU time of each mediasoup worker process, by mode (user, system)',
    labelNames: ['worker', 'mode'],
    registers,
    async collect () {
      const all = await readUsage()
      this.reset()
      all.forEach((u, i) => {
        if (u === undefined) return
        this.inc({ worker: String(i), mode: 'user' }, u.ru_utime / 1000)
        this.inc({ worker: String(i), mode: 'system' }, u.ru_stime / 1000)
      })
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_worker_max_rss_bytes',
    help: 'Largest resident set size each mediasoup worker process has had',
    labelNames: ['worker'],
    registers,
    async collect () {
      const all = await readUsage()
      this.reset()
      all.forEach((u, i) => { if (u !== undefined) this.set({ worker: String(i) }, u.ru_maxrss * 1024) })
    }
  })
  new Gauge({ name: 'mediasoup_swarm_peers', help: 'Connected swarm peers', registers, collect () { this.set(node.peers.length) } })
  new Gauge({
    name: 'mediasoup_swarm_producers',
    help: 'Producers on this node: created here (local) or received through a pipe from another node (piped)',
    labelNames: ['type'],
    registers,
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
    name: 'mediasoup_swarm_consumers',
    help: 'Consumers on this node by transport (pipe: sending to another node) and media kind',
    labelNames: ['transport', 'kind'],
    registers,
    collect () {
      this.reset()
      for (const { transport, kind, count } of media.consumerCounts()) this.set({ transport, kind }, count)
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_pipes',
    help: 'Cross-node pipes (PipeTransport pairs): up = receiving from another node, down = sending to another node',
    labelNames: ['direction'],
    registers,
    collect () {
      const stats = node.pipeStats
      this.set({ direction: 'up' }, stats.incomingPipes)
      this.set({ direction: 'down' }, stats.outgoingPipes)
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_pipe_streams',
    help: 'Producers carried by cross-node pipes: up = copies received, down = consumers sending to other nodes',
    labelNames: ['direction'],
    registers,
    collect () {
      const stats = node.pipeStats
      this.set({ direction: 'up' }, stats.incomingProducers)
      this.set({ direction: 'down' }, stats.outgoingConsumers)
    }
  })
  new Gauge({ name: 'mediasoup_swarm_load_points', help: 'Load in scaling points', registers, collect () { this.set(node.capacity.load) } })
  new Gauge({ name: 'mediasoup_swarm_draining', help: '1 once the node drains (takes no new pulls), else 0', registers, collect () { this.set(node.draining ? 1 : 0) } })
  new Gauge({
    name: 'mediasoup_swarm_empty',
    help: '1 when the node sends nothing to other nodes and has no producers or consumers of its own clients: it may be removed',
    registers,
    collect () { this.set(node.occupancy.empty ? 1 : 0) }
  })
  new Gauge({ name: 'mediasoup_swarm_capacity_points', help: 'Capacity in scaling points', registers, collect () { this.set(node.capacity.capacity) } })

  trafficCounter('mediasoup_swarm_bytes_received_total', 'Bytes received by this node\'s transports (mediasoup stats), by transport type', (t) => t.bytesReceived)
  trafficCounter('mediasoup_swarm_bytes_sent_total', 'Bytes sent by this node\'s transports (mediasoup stats), by transport type', (t) => t.bytesSent)
  trafficCounter('mediasoup_swarm_packets_received_total', 'RTP packets received by this node\'s producers (mediasoup stats), by transport type', (t) => t.packetsReceived)
  trafficCounter('mediasoup_swarm_packets_sent_total', 'RTP packets sent by this node\'s consumers (mediasoup stats), by transport type', (t) => t.packetsSent)

  // Media quality: from the tracker's last sampling round (media-sampler.ts), never read
  // from the workers at scrape time.
  const zeroKinds = (): KindFigures[] => STREAM_ROLES.flatMap((role) => TRANSPORT_KINDS.flatMap((transport) =>
    MEDIA_KINDS.map((kind) => ({ role, transport, kind, counts: { packets: 0, bytes: 0, packetsLost: 0, nacks: 0, plis: 0, firs: 0 }, figures: null }))))
  const byKind = (): KindFigures[] => media.quality?.byKind ?? zeroKinds()
  for (const { name, help, key } of QUALITY_COUNTERS) {
    new Counter({
      name: `mediasoup_swarm_pipe_${name}`,
      help: `${help} of cross-node pipes, by direction (in: received from peer, out: sent to peer)`,
      labelNames: ['direction', 'peer'],
      registers,
      collect () {
        this.reset()
        for (const { direction, peerId, figures } of media.quality?.byPipe ?? []) this.inc({ direction, peer: peerId }, figures[key])
      }
    })
    new Counter({
      name: `mediasoup_swarm_rtp_${name}`,
      help: `${help}, by role (producer, consumer), transport type and media kind`,
      labelNames: ['role', 'transport', 'kind'],
      registers,
      collect () {
        this.reset()
        for (const { role, transport, kind, counts } of byKind()) this.inc({ role, transport, kind }, counts[key])
      }
    })
  }
  for (const { name, help, pick } of QUALITY_GAUGES) {
    new Gauge({
      name: `mediasoup_swarm_pipe_${name}`,
      help: `${help}, of cross-node pipes by direction and peer`,
      labelNames: ['direction', 'peer'],
      registers,
      collect () {
        this.reset()
        for (const { direction, peerId, figures } of media.quality?.byPipe ?? []) {
          const value = pick(figures)
          if (value !== null) this.set({ direction, peer: peerId }, value)
        }
      }
    })
    new Gauge({
      name: `mediasoup_swarm_rtp_${name}`,
      help: `${help}, by role, transport type and media kind`,
      labelNames: ['role', 'transport', 'kind'],
      registers,
      collect () {
        this.reset()
        for (const { role, transport, kind, figures } of byKind()) {
          const value = figures === null ? null : pick(figures)
          if (value !== null) this.set({ role, transport, kind }, value)
        }
      }
    })
  }
  new Gauge({
    name: 'mediasoup_swarm_media_sample_duration_seconds',
    help: 'How long the last media-quality round took (stats of every producer and consumer)',
    registers,
    collect () {
      const last = media.quality
      if (last !== undefined) this.set(last.durationMs / 1000)
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_peer_rtt_seconds',
    help: 'Round-trip time to each connected peer: the lowest of its last pings (libp2p ping)',
    labelNames: ['peer'],
    registers,
    collect () {
      this.reset()
      for (const [peer, ms] of Object.entries(node.rtts())) this.set({ peer }, ms / 1000)
    }
  })
  new Gauge({ name: 'mediasoup_swarm_webrtc_transports', help: 'Open WebRTC transports (clients\' connections)', registers, collect () { this.set(media.transportCount('webrtc')) } })
  new Counter({
    name: 'mediasoup_swarm_webrtc_failures_total',
    help: 'Times a WebRTC transport\'s ICE was lost (state disconnected) or its DTLS failed, by stage (ice, dtls)',
    labelNames: ['stage'],
    registers,
    collect () {
      const { ice, dtls } = media.webRtcFailures
      this.reset()
      this.inc({ stage: 'ice' }, ice)
      this.inc({ stage: 'dtls' }, dtls)
    }
  })

  const lookup = new Histogram({
    name: 'mediasoup_swarm_lookup_seconds',
    help: 'Pulls of remote producers: time to find a node that has it (location cache or DHT)',
    buckets: LATENCY_BUCKETS,
    registers
  })
  const setup = new Histogram({
    name: 'mediasoup_swarm_pipe_setup_seconds',
    help: 'Pulls of remote producers: time from the start of the pull to the copy existing on this node',
    buckets: LATENCY_BUCKETS,
    registers
  })
  const redirects = new Counter({ name: 'mediasoup_swarm_pull_redirects_total', help: 'Redirects followed by pulls of remote producers', registers })
  const onPulled = (timing: PullTiming): void => {
    lookup.observe(timing.lookupMs / 1000)
    setup.observe(timing.totalMs / 1000)
    redirects.inc(timing.redirects)
  }
  node.on('pulled', onPulled)
  // Failed pulls (including a recruited relay's) count as node errors by error name.
  const onPullFailed = ({ error }: { error: Error }): void => { nodeErrors.set(`pull:${error.name}`, (nodeErrors.get(`pull:${error.name}`) ?? 0) + 1) }
  node.on('pullfailed', onPullFailed)

  const pipeToRouter = new Histogram({
    name: 'mediasoup_swarm_pipe_to_router_seconds',
    help: 'pipeToRouter() calls of the application (the binary: its signalling\'s consumes), by result',
    labelNames: ['result'],
    buckets: LATENCY_BUCKETS,
    registers
  })
  pipeToRouter.zero({ result: 'ok' })

  const onError = (err: Error): void => { nodeErrors.set(err.name, (nodeErrors.get(err.name) ?? 0) + 1) }
  node.on('error', onError)
  new Counter({
    name: 'mediasoup_swarm_errors_total',
    help: 'Errors by source: protocol (invalid messages from other nodes, by code), node (background errors, by name), signalling (error replies to clients, by name)',
    labelNames: ['source', 'kind'],
    registers,
    collect () {
      this.reset()
      const protocol = node.protocolErrorCounts
      for (const kind of Object.keys(PROTOCOL_ERROR_CODES) as ProtocolErrorCode[]) this.inc({ source: 'protocol', kind }, protocol[kind] ?? 0)
      for (const [kind, n] of nodeErrors) this.inc({ source: 'node', kind }, n)
      for (const s of signalling) for (const [kind, n] of Object.entries(s.errorCounts)) if (n > 0) this.inc({ source: 'signalling', kind }, n)
    }
  })
  new Counter({
    name: 'mediasoup_swarm_peer_refusals_total',
    help: 'Requests and sessions of other nodes refused by a peerLimits bound, by reason (rate, recruits, pipes, copies, incomplete-frame, unread-overflow)',
    labelNames: ['reason'],
    registers,
    collect () {
      this.reset()
      for (const [reason, n] of Object.entries(node.peerRefusalCounts)) this.inc({ reason }, n)
    }
  })
  new Counter({
    name: 'mediasoup_swarm_provider_penalties_total',
    help: 'Providers penalised by this node\'s pulls (asked last for a while), by reason (garbage, timeout, not-found, redirect; docs/security.md)',
    labelNames: ['reason'],
    registers,
    collect () {
      this.reset()
      for (const [reason, n] of Object.entries(node.providerPenaltyCounts)) this.inc({ reason }, n)
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_penalised_providers',
    help: 'Peers penalised now by this node\'s pulls (asked last)',
    registers,
    collect () { this.set(node.penalisedProviders.size) }
  })
  new Counter({
    name: 'mediasoup_swarm_requests_received_total',
    help: 'Valid requests received from other nodes, by type (pull, connect-pipe, release…)',
    labelNames: ['type'],
    registers,
    collect () {
      this.reset()
      const counts = node.requestCounts
      for (const type of Object.keys(REQUEST_TYPES) as Array<Request['type']>) this.inc({ type }, counts[type] ?? 0)
    }
  })
  new Counter({
    name: 'mediasoup_swarm_connection_refusals_total',
    help: 'Inbound libp2p connections refused before any protocol ran, by reason (notallowed, quarantined, stranger, pending, perpeer, handshake; docs/security.md)',
    labelNames: ['reason'],
    registers,
    collect () {
      this.reset()
      for (const [reason, n] of Object.entries(node.connectionRefusalCounts)) this.inc({ reason }, n)
    }
  })
  new Gauge({
    name: 'mediasoup_swarm_signalling_connections',
    help: 'Open client signalling connections (0 when signalling is off)',
    registers,
    collect () { this.set(signalling.reduce((n, s) => n + s.connectionCount, 0)) }
  })
  new Counter({
    name: 'mediasoup_swarm_signalling_refused_total',
    help: 'Client signalling connections refused for a missing, invalid or expired token',
    registers,
    collect () {
      this.reset()
      this.inc(signalling.reduce((n, s) => n + s.refusedConnections, 0))
    }
  })
  new Counter({
    name: 'mediasoup_swarm_signalling_refusals_total',
    help: 'Client signalling connections and requests refused by the limits, the allowed origins or the token check, by reason',
    labelNames: ['reason'],
    registers,
    collect () {
      this.reset()
      // Every reason from zero, so a rate() over it works before the first refusal.
      for (const reason of REFUSAL_REASONS) this.inc({ reason }, signalling.reduce((n, s) => n + (s.refusals?.[reason] ?? 0), 0))
    }
  })

  let closed = false
  return {
    registry,
    observePipeToRouter: (seconds, error) => {
      pipeToRouter.observe({ result: error === undefined ? 'ok' : error instanceof Error ? error.name : 'Error' }, seconds)
    },
    watchSignalling: (s) => { signalling.push(s) },
    close: () => {
      if (closed) return
      closed = true
      node.off('pulled', onPulled)
      node.off('pullfailed', onPullFailed)
      node.off('error', onError)
      if (options.media === undefined) media.close()
    }
  }
}
