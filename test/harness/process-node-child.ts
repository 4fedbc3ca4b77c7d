import '../../src/platform/promise-with-resolvers.js'
// One swarm node in a process of its own, driven by a test or benchmark over Node IPC (the
// parent side is process-node.ts, which lists the commands). Everything timed is timed
// here, in the node's own process, with the same functions as in-process benchmarks.
// Run as `node --import tsx test/harness/process-node-child.ts` with an IPC channel; exits
// when the parent disconnects.
import fs from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Redis } from 'ioredis'
import { createSwarmNode } from '../../src/index.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import { createRtpSource } from './rtp-source.js'
import { mediaCodecs } from './swarm.js'
import { timeFindProviders, timeLocalConsume, timeProvide, timeSwarmPull } from './timing.js'
import { waitFor } from './wait.js'
import { createRtpSink } from './rtp-sink.js'
import { epochNow } from './process-node.js'
import type { ChildMessage, Command, Commands, CopyEvent, NodeInfo, RequestMessage } from './process-node.js'
import type { RtpSink } from './rtp-sink.js'
import type { RtpSource } from './rtp-source.js'
import type { ProducerDirectory } from '../../src/directory/producer-directory.js'
import type { SwarmNode } from '../../src/index.js'
import type { types as ms } from 'mediasoup'

const STOP_TIMEOUT_MS = 10_000

let node: SwarmNode | undefined
let router: ms.Router | undefined
let stopping: Promise<void> | undefined
const sources = new Map<string, RtpSource>()
/** Pulls not yet released: the sink (timed pulls) and the copy. */
const held = new Map<string, { sink?: RtpSink, copy: ms.Producer }>()
/** Watches: a sink consumed again on every restore; arrivals of the sinks closed so far (performance.now()). */
const watches = new Map<string, { sink?: RtpSink, past: number[], events: CopyEvent[] }>()
const errors: string[] = []
/** Connections opened since the node started (either side dialled). */
let connectionsOpened = 0
process.on('unhandledRejection', (reason) => errors.push(`unhandled rejection: ${String(reason)}`))
/** Redis clients (the central directory of bench/swarm-scale-redis.ts), connected, by URL. */
const redisClients = new Map<string, Promise<Redis>>()

/** The central directory's key of a producer: its value is `{ peerId, multiaddrs }` (JSON). */
const redisKey = (producerId: string): string => `mss:producer:${producerId}`

/** A connected client of the Redis at `url`, made on first use and kept. */
async function redisAt (url: string): Promise<Redis> {
  let client = redisClients.get(url)
  if (client === undefined) {
    // No reconnects: a benchmark's Redis goes away once measured, and a lost connection is a failure.
    const redis = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null })
    redis.on('error', (err: Error) => errors.push(`redis ${url}: ${err.message}`))
    client = redis.connect().then(() => redis)
    client.catch(() => redisClients.delete(url))
    redisClients.set(url, client)
  }
  return await client
}

/** Opens a sink on the watch's producer in the node's router, counting into the watch. */
async function watchSink (producerId: string): Promise<void> {
  const watch = watches.get(producerId)
  const { router } = started()
  if (watch === undefined) return
  if (watch.sink !== undefined) {
    watch.past.push(...watch.sink.arrivals)
    watch.sink.close()
    watch.sink = undefined
  }
  watch.sink = await createRtpSink({ router, producerId })
}

function send (msg: ChildMessage): void {
  // After a disconnect there is nobody to tell.
  if (process.connected) process.send?.(msg, undefined, undefined, () => {})
}

function started (): { node: SwarmNode, router: ms.Router } {
  if (node === undefined || router === undefined) throw new Error('node not started')
  if (stopping !== undefined) throw new Error('node stopping')
  return { node, router }
}

function source (producerId: string): RtpSource {
  const s = sources.get(producerId)
  if (s === undefined) throw new Error(`no source with producer ${producerId}`)
  return s
}

/** The peers `n` has a connection with now. */
function connectedPeers (n: SwarmNode): Set<string> {
  return new Set(n.libp2p.getConnections().map((c) => c.remotePeer.toString()))
}

/** True when the node `n` got its copy of `producerId` from was not among `connected`. */
function dialledFor (n: SwarmNode, producerId: string, connected: Set<string>): boolean {
  const upstream = n.getDistribution(producerId)?.upstream
  if (upstream == null) throw new Error(`${producerId} was pulled but has no upstream`)
  return !connected.has(upstream)
}

/** VmRSS of a process (Linux /proc), bytes; 0 when unreadable. */
function residentBytes (pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? 0 : Number(kb) * 1024
  } catch {
    return 0
  }
}

function info (n: SwarmNode): NodeInfo {
  return { peerId: n.peerId, multiaddrs: n.multiaddrs, peers: n.peers }
}

async function stop (): Promise<void> {
  stopping ??= (async () => {
    // The copies are left to stop(): closing one first would send a release that stop()
    // then cuts off (reported as an `error` event).
    for (const h of held.values()) h.sink?.close()
    held.clear()
    for (const w of watches.values()) w.sink?.close()
    await node?.stop()
    for (const s of sources.values()) s.close()
    sources.clear()
    for (const client of redisClients.values()) client.then((redis) => redis.disconnect(), () => {})
    redisClients.clear()
  })()
  await stopping
}

type Handlers = { [C in Command]: (args: Commands[C]['args']) => Promise<Commands[C]['result']> }

const handlers: Handlers = {
  async start ({ options }) {
    if (node !== undefined) throw new Error('node already started')
    const n = await createSwarmNode(options)
    node = n
    n.libp2p.addEventListener('connection:open', () => { connectionsOpened++ })
    n.on('error', (err) => send({ type: 'error-event', error: `${err.name}: ${err.message}` }))
    const event = (producerId: string, e: CopyEvent): void => { watches.get(producerId)?.events.push(e) }
    n.on('copyclosed', ({ producerId, router: r, reason }) => { if (r === router) event(producerId, { type: 'copyclosed', at: epochNow(), detail: reason }) })
    n.on('restorefailed', ({ producerId, router: r, error }) => { if (r === router) event(producerId, { type: 'restorefailed', at: epochNow(), detail: error.message }) })
    n.on('producerrestored', ({ producerId, router: r, gapMs }) => {
      if (r !== router) return
      event(producerId, { type: 'producerrestored', at: epochNow(), detail: '', gapMs })
      watchSink(producerId).catch((err: Error) => errors.push(`re-consume of ${producerId}: ${err.message}`))
    })
    router = await n.createRouter({ mediaCodecs })
    return info(n)
  },
  async info () {
    return info(started().node)
  },
  async createSource ({ kind, packetsPerSecond, inNewRouter = false, redisUrl }) {
    const { node, router } = started()
    const s = await createRtpSource({ router: inNewRouter ? await node.createRouter({ mediaCodecs }) : router, kind, packetsPerSecond, autoStart: false })
    sources.set(s.producer.id, s)
    if (redisUrl !== undefined) {
      // As LiveKit's routing table: the origin writes where the producer is before answering.
      await (await redisAt(redisUrl)).set(redisKey(s.producer.id), JSON.stringify({ peerId: node.peerId, multiaddrs: node.multiaddrs }))
    }
    return { producerId: s.producer.id }
  },
  async startSource ({ producerId }) {
    source(producerId).start()
    return null
  },
  async stopSource ({ producerId }) {
    source(producerId).stop()
    return null
  },
  async closeSource ({ producerId }) {
    source(producerId).close()
    sources.delete(producerId)
    return null
  },
  async timedPull ({ producerId }) {
    const { node, router } = started()
    if (held.has(producerId)) throw new Error(`${producerId} is already pulled`)
    const timed = await timeSwarmPull(node, router, producerId)
    held.set(producerId, { sink: timed.sink, copy: timed.copy! })
    return timed.sample
  },
  async pull ({ producerId }) {
    const { node, router } = started()
    if (held.has(producerId)) throw new Error(`${producerId} is already pulled`)
    const connected = connectedPeers(node)
    const t0 = performance.now()
    const { pipeProducer } = await node.pipeToRouter({ producerId, router })
    const ms = performance.now() - t0
    held.set(producerId, { copy: pipeProducer })
    return { ms, dialled: dialledFor(node, producerId, connected) }
  },
  async redisConnect ({ redisUrl }) {
    const redis = await redisAt(redisUrl)
    const t0 = performance.now()
    await redis.ping()
    return performance.now() - t0
  },
  async pullViaRedis ({ producerId, redisUrl }) {
    const { node, router } = started()
    if (held.has(producerId)) throw new Error(`${producerId} is already pulled`)
    const redis = await redisAt(redisUrl)
    // The same clock as `pull`, started before the GET: the central lookup replaces the swarm's.
    const t0 = performance.now()
    const value = await redis.get(redisKey(producerId))
    const getMs = performance.now() - t0
    if (value === null) throw new Error(`${producerId} is not in Redis`)
    const { peerId, multiaddrs } = JSON.parse(value) as { peerId: string, multiaddrs: string[] }
    // What a pull knows after a lookup: the node that has it (the location cache, tried
    // first, with no swarm lookup when it serves) and how to dial it.
    ;(node as unknown as { directory: ProducerDirectory }).directory.remember(producerId, peerId)
    await node.libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: multiaddrs.map((a) => multiaddr(a)) })
    const connected = connectedPeers(node)
    const { pipeProducer } = await node.pipeToRouter({ producerId, router })
    const ms = performance.now() - t0
    held.set(producerId, { copy: pipeProducer })
    return { ms, getMs, dialled: dialledFor(node, producerId, connected) }
  },
  async timedLocal ({ producerId }) {
    const timed = await timeLocalConsume(started().router, producerId)
    timed.sink.close()
    return timed.sample
  },
  async release ({ producerId, incomingPipes }) {
    const { node } = started()
    const h = held.get(producerId)
    if (h === undefined) throw new Error(`${producerId} is not pulled`)
    const t0 = performance.now()
    held.delete(producerId)
    h.sink?.close()
    h.copy.close()
    await waitFor(() => node.getDistribution(producerId) === undefined && node.pipeStats.incomingPipes === incomingPipes, {
      timeoutMs: 5000,
      what: `release of ${producerId}`,
      progress: () => `distribution ${JSON.stringify(node.getDistribution(producerId))}, ${JSON.stringify(node.pipeStats)}`
    })
    return performance.now() - t0
  },
  async getDistribution ({ producerId }) {
    return started().node.getDistribution(producerId) ?? null
  },
  async pipeStats () {
    return started().node.pipeStats
  },
  async statusRoundTrip ({ peerId }) {
    const { node } = started()
    const t0 = performance.now()
    await request(node.libp2p, peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'status' }, 3000)
    return performance.now() - t0
  },
  async dhtProvide ({ name }) {
    return await timeProvide(started().node, await producerKey(name))
  },
  async dhtFind ({ name }) {
    return await timeFindProviders(started().node, await producerKey(name))
  },
  async watch ({ producerId }) {
    const { node, router } = started()
    if (watches.has(producerId)) throw new Error(`${producerId} is already watched`)
    const watch = { past: [], events: [] }
    watches.set(producerId, watch)
    await node.pipeToRouter({ producerId, router })
    try {
      await watchSink(producerId)
    } catch (err) {
      // The copy closed between the pull and the sink (its upstream went away): the
      // restore, when it comes, opens the sink (as an app consumes on producerrestored).
      if (!watch.events.some((e: CopyEvent) => e.type === 'copyclosed')) throw err
    }
    return null
  },
  async watchReport ({ producerId, since }) {
    const { node } = started()
    const watch = watches.get(producerId)
    if (watch === undefined) throw new Error(`${producerId} is not watched`)
    const all = [...watch.past, ...(watch.sink?.arrivals ?? [])].map((t) => performance.timeOrigin + t)
    return {
      arrivals: all.filter((t) => t >= since),
      packets: all.length,
      events: watch.events,
      upstream: node.getDistribution(producerId)?.upstream ?? null
    }
  },
  async drain ({ timeoutMs }) {
    return await started().node.drain({ timeoutMs })
  },
  async workerPids () {
    return started().node.workers().map((w) => w.pid)
  },
  async counts () {
    const { node } = started()
    const memory = process.memoryUsage()
    const refresh = (node.libp2p.services as { dht?: { routingTableRefresh?: { refreshTimeoutId?: unknown, commonPrefixLengthRefreshedAt?: unknown[] } } }).dht?.routingTableRefresh
    return {
      peers: node.peers.length,
      pipes: node.pipeStats,
      producers: node.producerIds().length,
      workers: node.workers().length,
      draining: node.draining,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      workerRssBytes: node.workers().reduce((n, w) => n + residentBytes(w.pid), 0),
      connections: node.libp2p.getConnections().length,
      connectionsOpened,
      dhtTableRefreshRuns: refresh?.refreshTimeoutId != null || (refresh?.commonPrefixLengthRefreshedAt?.length ?? 0) > 0,
      errors: [...errors]
    }
  },
  async closeAll () {
    for (const h of held.values()) {
      h.sink?.close()
      h.copy.close()
    }
    held.clear()
    for (const s of sources.values()) s.close()
    sources.clear()
    return null
  },
  async stop () {
    await stop()
    return null
  }
}

async function handle (msg: RequestMessage): Promise<void> {
  try {
    const handler = handlers[msg.cmd] as (args: unknown) => Promise<unknown>
    if (handler === undefined) throw new Error(`unknown command ${String(msg.cmd)}`)
    send({ type: 'result', id: msg.id, result: await handler(msg.args) })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    send({ type: 'failure', id: msg.id, error: `${e.name}: ${e.message}` })
  }
}

if (process.send === undefined) {
  console.error('test/harness/process-node-child.ts runs as a child process with an IPC channel (see process-node.ts)')
  process.exit(2)
}
process.on('message', (msg: RequestMessage) => { void handle(msg) })
// PROCESS_NODE_STALL_MS=<ms>: a line in the log whenever the event loop was held that long
// (a benchmark's nodes on one machine: which node stalled, when, and for how long).
const stallMs = Number(process.env.PROCESS_NODE_STALL_MS ?? 0)
if (stallMs > 0) {
  // Coarse: 50 processes waking every 20 ms were 7 % of an idle swarm's CPU profile.
  const TICK_MS = 100
  let last = performance.now()
  setInterval(() => {
    const now = performance.now()
    if (now - last - TICK_MS >= stallMs) process.stderr.write(`${new Date().toISOString()} process-node: event loop held ${Math.round(now - last - TICK_MS)} ms\n`)
    last = now
  }, TICK_MS).unref()
}
process.on('disconnect', () => {
  const timer = setTimeout(() => process.exit(1), STOP_TIMEOUT_MS)
  stop().then(() => process.exit(0), (err) => {
    console.error('node process: stop failed:', err)
    clearTimeout(timer)
    process.exit(1)
  })
})
send({ type: 'ready' })
