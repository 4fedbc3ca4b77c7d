// What `mediasoup-swarm start` runs: a swarm node plus its HTTP side (metrics, status,
// status page) and, optionally, browser signalling on a WebRtcServer. Also used by the
// demo to run several nodes in one process.
import http from 'node:http'
import { createSwarmNode, ListenError } from '../index.js'
import { createNodeMetrics } from '../observability/metrics.js'
import { nodeStatus } from '../observability/status.js'
import { createClientSignalling } from '../signalling/index.js'
import { STATUS_PAGE } from './status-page.js'
import type { SwarmNode, SwarmNodeOptions } from '../index.js'
import type { ClientSignalling } from '../signalling/index.js'
import type { AddressInfo } from 'node:net'
import type { types as ms } from 'mediasoup'

/** Codecs of the router browsers publish to and watch from. */
export const SIGNALLING_CODECS: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } }
]

export interface NodeServiceConfig {
  node: SwarmNodeOptions
  /** host:port of the HTTP server (port 0: a free one). */
  http: { host: string, port: number }
  /** Browser signalling at /ws, with a WebRtcServer; undefined: off. */
  signalling?: {
    /** IP the WebRtcServer listens on, and the IP announced to browsers. */
    listenIp: string
    announcedIp?: string
    /** UDP and TCP port of the WebRtcServer (0: a free one). */
    port: number
    /** HMAC secret of client tokens; undefined: no authentication. */
    tokenSecret?: string
  }
}

export interface NodeService {
  node: SwarmNode
  /** e.g. http://127.0.0.1:7070 */
  httpUrl: string
  /** ws:// URL of the browser signalling, when enabled. */
  signallingUrl?: string
  /** Stops accepting, closes browser transports, stops the node. Idempotent. */
  stop: () => Promise<void>
}

/** A failure to start that names the problem (port in use, bad address…). */
export class StartError extends Error {
  override name = 'StartError'
}

async function listen (server: http.Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new StartError(err.code === 'EADDRINUSE' ? `HTTP address ${host}:${port} is in use` : `cannot listen on HTTP ${host}:${port}: ${err.message}`))
    })
    server.listen(port, host, () => resolve())
  })
}

export async function startNodeService (config: NodeServiceConfig): Promise<NodeService> {
  let node: SwarmNode
  try {
    node = await createSwarmNode(config.node)
  } catch (err) {
    if (err instanceof ListenError) throw new StartError(err.message)
    throw err
  }
  const metrics = createNodeMetrics(node)
  let signalling: ClientSignalling | undefined
  let webRtcServer: ms.WebRtcServer | undefined
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405).end()
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message))
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(nodeStatus(node), null, 2))
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(STATUS_PAGE)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })
  try {
    if (config.signalling !== undefined) {
      const s = config.signalling
      const router = await node.createRouter({ mediaCodecs: SIGNALLING_CODECS })
      // One UDP and one TCP port for every browser: few ports to open behind NAT or in a container.
      webRtcServer = await node.createWebRtcServer({
        listenInfos: [
          { protocol: 'udp', ip: s.listenIp, announcedIp: s.announcedIp, port: s.port === 0 ? undefined : s.port },
          { protocol: 'tcp', ip: s.listenIp, announcedIp: s.announcedIp, port: s.port === 0 ? undefined : s.port }
        ]
      }, router)
      signalling = createClientSignalling({
        server,
        path: '/ws',
        router,
        webRtcServer,
        authenticate: s.tokenSecret === undefined ? undefined : { secret: s.tokenSecret },
        resolveProducer: async (producerId) => await node.pipeToRouter({ producerId, router })
      })
    }
    await listen(server, config.http.host, config.http.port)
  } catch (err) {
    signalling?.close()
    webRtcServer?.close()
    metrics.close()
    await node.stop()
    if (err instanceof Error && /port|address/i.test(err.message) && !(err instanceof StartError)) throw new StartError(`cannot open the WebRTC port: ${err.message}`)
    throw err
  }
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  let stopping: Promise<void> | undefined
  return {
    node,
    httpUrl: `http://${host}:${address.port}`,
    signallingUrl: signalling === undefined ? undefined : `ws://${host}:${address.port}/ws`,
    stop: async () => {
      stopping ??= (async () => {
        server.close()
        // Browser transports first: closing a WebRtcServer with live transports aborts a 3.13 worker.
        signalling?.close()
        webRtcServer?.close()
        server.closeAllConnections()
        metrics.close()
        await node.stop()
      })()
      await stopping
    }
  }
}
