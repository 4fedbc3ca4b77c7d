// What `mediasoup-swarm start` runs: a swarm node plus its HTTP side (status page, /status,
// /metrics) and, optionally, browser signalling on one WebRtcServer per worker. Also used
// by the demo and the browser tests to run several nodes in one process.
import type http from 'node:http'
// Not '../index.js': that loads the browser signalling (and ws), which most nodes do not
// serve; startSignalling() imports it when asked (docs/operations.md, Memory).
import { createSwarmNode } from '../node/swarm-node.js'
import { DEFAULT_RELAY_CODECS } from '../node/options.js'
import { ListenError, SwarmError } from '../errors.js'
import { createNodeMetrics, MediaTracker, nodeStatus, ProducerTrees } from '../observability/index.js'
import { describeSocketError } from './errors.js'
import { createLogger, describeError } from '../logger.js'
import { createHttpServer, listen } from './http-server.js'
import { isLoopbackHost } from './config.js'
import { STATUS_PAGE } from './status-page.js'
import type { DrainOptions, DrainResult, SwarmNode, SwarmNodeOptions } from '../index.js'
import type { NodeMetrics, StatusOptions } from '../observability/index.js'
import type { ClientSignalling } from '../signalling/index.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('cli:signalling')

/**
 * Codecs of the routers browsers publish to and watch from: those of a recruited relay's
 * router, so whatever a browser publishes on one node can be piped into any other node.
 */
export const SIGNALLING_CODECS: ms.RtpCodecCapability[] = DEFAULT_RELAY_CODECS

export interface NodeServiceConfig {
  node: SwarmNodeOptions
  /** HTTP address (port 0: a free one), and the bearer token /status and /metrics ask for (none: no token). */
  http: { host: string, port: number, token?: string }
  /** Browser signalling at /ws, with a WebRtcServer per worker; undefined: off. */
  signalling?: {
    /** IP the WebRtcServers listen on. */
    listenIp: string
    /** IP announced to browsers in ICE candidates. Default listenIp. */
    announcedIp?: string
    /** UDP and TCP port of the first worker's WebRtcServer; worker i uses port + i. 0: free ports of the RTC range. */
    port: number
    /** HS256 secret of client tokens (JWT); undefined: no authentication. */
    tokenSecret?: string
    /** Origins whose pages may connect (the Origin header); undefined: any. */
    allowedOrigins?: string[]
  }
  /** Shown in /status and the metrics. */
  version?: string
  /** Time between two media-quality rounds, ms. Default MEDIA_SAMPLE_PERIOD_MS (10 s). */
  mediaSamplePeriodMs?: number
}

export interface NodeService {
  node: SwarmNode
  /** e.g. http://127.0.0.1:7070 */
  httpUrl: string
  /** ws:// URL of the browser signalling, when enabled. */
  signallingUrl?: string
  metrics: NodeMetrics
  /**
   * Drains the node (node.drain()), first telling its signalling clients (`nodeDraining`),
   * so they move to other nodes while the node still serves them.
   */
  drain: (options?: DrainOptions) => Promise<DrainResult>
  /** Stops accepting, closes browser transports, then stops the node (telling peers its pipes close). Idempotent. */
  stop: () => Promise<void>
}

/** A failure to start that names the problem (port in use, address not on this host…). */
export class StartError extends SwarmError {}

export async function startNodeService (config: NodeServiceConfig): Promise<NodeService> {
  let node: SwarmNode
  try {
    node = await createSwarmNode(config.node)
  } catch (err) {
    if (err instanceof ListenError) throw new StartError(err.message)
    throw err
  }
  const startedAt = performance.now()
  const media = new MediaTracker(node, { samplePeriodMs: config.mediaSamplePeriodMs })
  const metrics = createNodeMetrics(node, { media, version: config.version })
  const statusOptions: StatusOptions = { media, version: config.version, startedAt }
  // Peers drawing a tree get the figures /status shows of this node's pipes.
  // The figures this node tells peers drawing a tree: its last media-quality round.
  node.setPipeFigures(() => media.quality?.pipes)
  const trees = new ProducerTrees(node)
  const server = createHttpServer({
    token: config.http.token,
    page: STATUS_PAGE,
    status: async () => nodeStatus(node, { ...statusOptions, trees: await trees.get() }),
    health: () => node.health(),
    readiness: () => node.readiness(),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() })
  })
  const webRtcServers: ms.WebRtcServer[] = []
  let signalling: ClientSignalling | undefined
  const closeSignalling = (): void => {
    // Browser transports first: closing a WebRtcServer with live transports aborts a 3.13 worker.
    signalling?.close()
    for (const s of webRtcServers) s.close()
  }
  let httpUrl: string
  try {
    if (config.signalling !== undefined) {
      signalling = await startSignalling(node, server, config.signalling, config.node.numWorkers ?? 1, webRtcServers, metrics)
      metrics.watchSignalling(signalling)
      if (config.signalling.tokenSecret === undefined && !isLoopbackHost(config.http.host)) {
        log.warn('signalling on %s without a token secret: whoever reaches it may publish into and consume from the whole swarm', config.http.host)
      }
    }
    try {
      httpUrl = await listen(server, config.http.host, config.http.port)
    } catch (err) {
      const reason = describeSocketError((err as NodeJS.ErrnoException).code, (err as Error).message)
      throw new StartError(`cannot listen on HTTP ${config.http.host}:${config.http.port}: ${reason}`)
    }
  } catch (err) {
    closeSignalling()
    metrics.close()
    media.close()
    await node.stop()
    throw err
  }
  let stopping: Promise<void> | undefined
  return {
    node,
    httpUrl,
    signallingUrl: signalling === undefined ? undefined : `${httpUrl.replace(/^http/, 'ws')}/ws`,
    metrics,
    drain: async (options) => {
      signalling?.notifyDraining()
      return await node.drain(options)
    },
    stop: async () => {
      stopping ??= (async () => {
        server.close()
        closeSignalling()
        server.closeAllConnections()
        metrics.close()
        media.close()
        await node.stop()
      })()
      await stopping
    }
  }
}

/** One router and one WebRtcServer per worker; clients are spread over them in turn. */
async function startSignalling (
  node: SwarmNode, server: http.Server, config: NonNullable<NodeServiceConfig['signalling']>,
  workers: number, webRtcServers: ms.WebRtcServer[], metrics: NodeMetrics
): Promise<ClientSignalling> {
  const { copyEventsOf, createClientSignalling } = await import('../signalling/index.js')
  const serverOf = new Map<ms.Router, ms.WebRtcServer>()
  const routers: ms.Router[] = []
  /** One router and WebRtcServer on the worker with the fewest routers (a new one: the one just added), on port + `slot`. */
  const addSite = async (slot: number): Promise<void> => {
    const router = await node.createRouter({ mediaCodecs: SIGNALLING_CODECS })
    const port = config.port === 0 ? undefined : config.port + slot
    const listenInfo = { ip: config.listenIp, announcedIp: config.announcedIp, port }
    let webRtcServer: ms.WebRtcServer
    try {
      webRtcServer = await node.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ...listenInfo }, { protocol: 'tcp', ...listenInfo }] }, router)
    } catch (err) {
      router.close()
      // mediasoup: "uv_udp_bind() failed [transport:udp, ip:'…', port:…]: address already in use [method:…]"
      const match = /uv_(udp|tcp)_bind\(\) failed .*?\]: ([^[]+)/.exec((err as Error).message)
      const what = match === null ? (err as Error).message : `${match[1]!.toUpperCase()} ${match[2]!.trim()}`
      throw new StartError(`cannot open the WebRTC port ${config.listenIp}:${port ?? 0}: ${what}`)
    }
    webRtcServers.push(webRtcServer)
    serverOf.set(router, webRtcServer)
    routers.push(router)
    // A dead worker's router closes: new clients go to the others, and to its replacement.
    router.observer.once('close', () => {
      routers.splice(routers.indexOf(router), 1)
      serverOf.delete(router)
      webRtcServers.splice(webRtcServers.indexOf(webRtcServer), 1)
      freeSlots.push(slot)
    })
  }
  const freeSlots: number[] = []
  // createRouter() picks the worker with the fewest routers: one call per worker covers them all.
  for (let i = 0; i < workers; i++) await addSite(i)
  node.on('newworker', () => {
    const slot = freeSlots.shift() ?? routers.length
    addSite(slot).then(() => log.info('signalling serves on the new worker too'), (err: Error) => {
      freeSlots.push(slot)
      log.error('signalling could not use the new worker: %s', describeError(err))
    })
  })
  let next = 0
  return createClientSignalling({
    server,
    path: '/ws',
    router: () => routers[next++ % routers.length]!,
    webRtcServer: (router) => serverOf.get(router),
    authenticate: config.tokenSecret === undefined ? undefined : { secret: config.tokenSecret },
    allowedOrigins: config.allowedOrigins,
    // Clients' consumers of a copy whose path broke are made again when it is restored.
    copyEvents: copyEventsOf(node),
    // listProducers with a room lists it swarm-wide and follows it.
    rooms: node,
    resolveProducer: async (producerId, router) => {
      const started = performance.now()
      try {
        const result = await node.pipeToRouter({ producerId, router })
        metrics.observePipeToRouter((performance.now() - started) / 1000)
        return result
      } catch (err) {
        metrics.observePipeToRouter((performance.now() - started) / 1000, err)
        throw err
      }
    },
    resolveDataProducer: async (dataProducerId, router) => await node.pipeToRouter({ dataProducerId, router })
  })
}
