// A small mediasoup application server: serves a browser client, has rooms, and its own
// WebSocket signalling (protocol.ts). It embeds mediasoup-swarm to be a member of a swarm
// of such servers: the lines marked `// swarm:` are all it takes (README.md).
// swarm: the library instead of mediasoup's createWorker. In your app: from 'mediasoup-swarm'.
// Imported first: it installs the Promise.withResolvers shim libp2p needs on Node 20.
import { createSwarmNode } from '../../src/index.js'
import type { SwarmNode, SwarmNodeOptions } from '../../src/index.js'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { build } from 'esbuild'
import type { types } from 'mediasoup'
import { WebSocket, WebSocketServer } from 'ws'
import type { Notification, Reply, Request, RoomListing } from './protocol.js'
import { Room } from './room.js'
import type { RoomClient } from './room.js'

const mediaCodecs: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }
]
/** How often rooms with clients ask the peer servers for their producers. */
const PEER_POLL_MS = 1000

export interface AppServerOptions {
  /** HTTP port of the page, the WebSocket and the room listings. Default 0: a free port. */
  port?: number
  /** IP of HTTP and of WebRTC media. Default '127.0.0.1'. */
  ip?: string
  /** IP browsers send media to, when it is not `ip` (NAT). */
  announcedIp?: string
  /** Multiaddrs of another server's swarm node (its `node.multiaddrs`), to join through. */
  bootstrap?: string[]
  /** HTTP URLs of the other app servers, whose rooms' producers this one lists. */
  peers?: string[]
  /** More swarm node options: listen addresses, identity file, pipe IPs… (docs/api.md). */
  swarm?: SwarmNodeOptions
}

export interface AppServer {
  /** Where the client page is, e.g. http://127.0.0.1:3000 */
  url: string
  node: SwarmNode
  /** Another app server to learn room producers from (one started after this one). */
  addPeer: (url: string) => void
  close: () => Promise<void>
}

/** One browser tab connected over the WebSocket. */
interface Client extends RoomClient {
  room?: Room
  closed: boolean
  transports: Map<string, types.WebRtcTransport>
  consumers: Map<string, types.Consumer>
}

export async function startAppServer (options: AppServerOptions = {}): Promise<AppServer> {
  const { port = 0, ip = '127.0.0.1', announcedIp } = options
  const peers = [...(options.peers ?? [])]
  // swarm: a swarm node owns the mediasoup workers (instead of mediasoup.createWorker()).
  const node = await createSwarmNode({ ...options.swarm, bootstrap: options.bootstrap ?? options.swarm?.bootstrap ?? [] })
  // swarm: its routers are ordinary mediasoup Routers whose producers the swarm can find.
  const router = await node.createRouter({ mediaCodecs })
  const rooms = new Map<string, Room>()

  const handlers: Record<string, (client: Client, data: Record<string, unknown>) => Promise<unknown>> = {
    async join (client, { room: name }) {
      if (client.room !== undefined || typeof name !== 'string' || name === '') throw new Error('join one room, by name')
      const room = rooms.get(name) ?? new Room(name)
      rooms.set(name, room)
      room.clients.add(client)
      client.room = room
      await room.refresh(peers) // swarm: producers of this room on the other servers
      return { rtpCapabilities: router.rtpCapabilities, producers: room.producers }
    },

    async createTransport (client, { direction }) {
      roomOf(client)
      const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip, announcedIp }], appData: { direction } })
      if (client.closed) { // the tab left while the transport was being made
        transport.close()
        throw new Error('disconnected')
      }
      client.transports.set(transport.id, transport)
      const { id, iceParameters, iceCandidates, dtlsParameters } = transport
      return { id, iceParameters, iceCandidates, dtlsParameters }
    },

    async connectTransport (client, { transportId, dtlsParameters }) {
      await transportOf(client, transportId).connect({ dtlsParameters: dtlsParameters as types.DtlsParameters })
      return {}
    },

    async produce (client, { transportId, kind, rtpParameters }) {
      const producer = await transportOf(client, transportId).produce({ kind: kind as types.MediaKind, rtpParameters: rtpParameters as types.RtpParameters })
      roomOf(client).addLocal(producer, client)
      return { id: producer.id }
    },

    async consume (client, { transportId, producerId, rtpCapabilities }) {
      const room = roomOf(client)
      if (typeof producerId !== 'string' || !room.has(producerId)) throw new Error(`no producer ${String(producerId)} in room ${room.name}`)
      // swarm: a producer published on another server is piped into this router first
      // (for one published here it returns at once).
      await node.pipeToRouter({ producerId, router })
      const caps = rtpCapabilities as types.RtpCapabilities
      if (!router.canConsume({ producerId, rtpCapabilities: caps })) throw new Error('this browser cannot receive that producer')
      // Paused until the client has its track ready, so the first key frame is not lost.
      const consumer = await transportOf(client, transportId).consume({ producerId, rtpCapabilities: caps, paused: true })
      client.consumers.set(consumer.id, consumer)
      consumer.observer.once('close', () => client.consumers.delete(consumer.id))
      consumer.once('producerclose', () => client.notify({ notification: 'consumerClosed', data: { consumerId: consumer.id } }))
      return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters }
    },

    async resume (client, { consumerId }) {
      const consumer = client.consumers.get(String(consumerId))
      if (consumer === undefined) throw new Error(`no consumer ${String(consumerId)}`)
      await consumer.resume()
      if (consumer.kind === 'video') await consumer.requestKeyFrame()
      return {}
    }
  }

  const httpServer = http.createServer((req, res) => {
    if (!URL.canParse(req.url ?? '', 'http://x')) return res.writeHead(400).end()
    const url = new URL(req.url ?? '', 'http://x')
    if (url.pathname === '/') {
      fs.readFile(path.join(import.meta.dirname, 'client/index.html')).then((html) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html),
        (err: Error) => res.writeHead(500).end(err.message))
    } else if (url.pathname === '/client.js') {
      clientBundle().then((js) => res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js),
        (err: Error) => res.writeHead(500).end(err.message))
    } else if (url.pathname === '/producers') {
      // swarm: the other app servers read which producers were published here to a room.
      const room = rooms.get(url.searchParams.get('room') ?? '')
      const listing: RoomListing = { producers: [...(room?.local.values() ?? [])] }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing))
    } else {
      res.writeHead(404).end()
    }
  })

  const wss = new WebSocketServer({ server: httpServer, path: '/ws' })
  wss.on('connection', (ws) => {
    const client: Client = {
      closed: false,
      transports: new Map(),
      consumers: new Map(),
      notify: (message: Notification) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)) }
    }
    ws.on('message', (raw) => {
      let request: Request | undefined
      try {
        request = JSON.parse(String(raw)) as Request
      } catch { /* not JSON: closed below */ }
      if (typeof request?.method !== 'string') return ws.close(1003, 'not a request')
      const reply = (message: Reply): void => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)) }
      const handler = Object.hasOwn(handlers, request.method) ? handlers[request.method] : undefined
      if (handler === undefined) return reply({ id: request.id, ok: false, error: `unknown method ${String(request.method)}` })
      const { id, data } = request
      handler(client, data ?? {}).then((result) => reply({ id, ok: true, data: result }), (err: Error) => reply({ id, ok: false, error: err.message }))
    })
    ws.on('close', () => {
      client.closed = true
      for (const transport of client.transports.values()) transport.close() // closes its producers and consumers
      const room = client.room
      room?.clients.delete(client)
      if (room !== undefined && room.clients.size === 0) rooms.delete(room.name)
    })
  })

  // swarm: keep each room's list of producers on the other servers up to date.
  const poll = setInterval(() => { for (const room of rooms.values()) void room.refresh(peers) }, PEER_POLL_MS)

  await new Promise<void>((resolve) => httpServer.listen(port, ip, resolve))
  return {
    url: `http://${ip}:${(httpServer.address() as AddressInfo).port}`,
    node,
    addPeer: (url) => { peers.push(url) },
    close: async () => {
      clearInterval(poll)
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      httpServer.closeAllConnections()
      await new Promise((resolve) => httpServer.close(resolve))
      await node.stop() // swarm: leaves the swarm and closes the workers
    }
  }
}

function roomOf (client: Client): Room {
  if (client.room === undefined) throw new Error('join a room first')
  return client.room
}

function transportOf (client: Client, transportId: unknown): types.WebRtcTransport {
  const transport = client.transports.get(String(transportId))
  if (transport === undefined) throw new Error(`no transport ${String(transportId)}`)
  return transport
}

let bundle: Promise<string> | undefined

/** client/main.ts and mediasoup-client in one script, built once, in memory. */
async function clientBundle (): Promise<string> {
  bundle ??= build({
    entryPoints: [path.join(import.meta.dirname, 'client/main.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' }
  }).then((result) => result.outputFiles[0]?.text ?? '')
  return await bundle
}
