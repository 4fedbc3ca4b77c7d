// One signalling WebSocket to one node (docs/client-signalling.md): numbered requests with
// replies matched by id, notifications passed on, a mediasoup-client Device loaded with the
// node's router capabilities, and its send and receive transports, made when first needed.
import type { Device, types } from 'mediasoup-client'

/** Why the node closed a consumer (docs/client-signalling.md, "Notifications"). */
export type ConsumerCloseReason = 'producerclosed' | 'upstreamlost' | 'moving' | 'released' | 'nodestopping'

export interface ConsumerInfo { id: string, producerId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters }
/** What `consumeData` answers. */
export interface DataConsumerInfo { id: string, dataProducerId: string, sctpStreamParameters: types.SctpStreamParameters, label: string, protocol: string }

export type Notification =
  | { notification: 'consumerClosed', data: { consumerId: string, producerId: string, reason: ConsumerCloseReason } }
  | { notification: 'consumerRestored', data: { oldConsumerId: string, consumer: ConsumerInfo } }
  | { notification: 'nodeDraining', data: Record<string, never> }
  | { notification: 'dataConsumerClosed', data: { dataConsumerId: string, dataProducerId: string } }
  | { notification: 'consumerLayersChanged', data: { consumerId: string, layers: ConsumerLayers | null } }
  | { notification: 'newProducer', data: { room: string, producer: RoomProducerInfo } }
  | { notification: 'producerClosed', data: { room: string, producerId: string } }

/** Spatial and temporal layer of a simulcast or SVC consumer. */
export interface ConsumerLayers { spatialLayer: number, temporalLayer?: number }

/** A producer of a room, as `listProducers` and `newProducer` give it. */
export interface RoomProducerInfo { id: string, kind: 'audio' | 'video', paused: boolean, appData: Record<string, unknown> }

interface Reply { id: number, ok: boolean, data?: unknown, error?: { name: string, message: string } }

interface TransportInfo {
  id: string
  iceParameters: types.IceParameters
  iceCandidates: types.IceCandidate[]
  dtlsParameters: types.DtlsParameters
  sctpParameters?: types.SctpParameters
}

/** An error reply of the node; `name` is its error name (NotFound, LimitExceeded…). */
export class SignallingRequestError extends Error {
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}

export class Connection {
  /** Called with every notification of the node. */
  onNotification: (notification: Notification) => void = () => {}
  /** Called once when the WebSocket or a transport fails, unless close() was called first. */
  onLost: () => void = () => {}
  /** The node said it drains (kept, as this may come before anyone listens). */
  draining = false
  /** Set by open() once loaded. */
  device!: Device

  private nextId = 1
  private readonly pending = new Map<number, { resolve: (data: unknown) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout> }>()
  private send?: Promise<types.Transport>
  private recv?: Promise<types.Transport>
  private closed = false

  private constructor (readonly url: string, private readonly ws: WebSocket, private readonly timeoutMs: number) {
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as Reply | Notification
      if ('notification' in message) {
        if (message.notification === 'nodeDraining') this.draining = true
        this.onNotification(message)
        return
      }
      const waiter = this.pending.get(message.id)
      if (waiter === undefined) return
      this.pending.delete(message.id)
      clearTimeout(waiter.timer)
      if (message.ok) waiter.resolve(message.data)
      else waiter.reject(new SignallingRequestError(message.error?.name ?? 'Error', message.error?.message ?? 'request failed'))
    })
    ws.addEventListener('close', (event) => this.fail(`signalling closed (${event.code} ${event.reason})`))
  }

  /** Opens the WebSocket and loads a device with the node's router capabilities. */
  static async open (url: string, token: string | ((url: string) => string | Promise<string>) | undefined, timeoutMs: number, makeDevice: () => Promise<Device>): Promise<Connection> {
    const address = new URL(url)
    if (token !== undefined) address.searchParams.set('token', typeof token === 'string' ? token : await token(url))
    const ws = new WebSocket(address)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { ws.close(); reject(new Error(`${url}: no connection within ${timeoutMs} ms`)) }, timeoutMs)
      ws.addEventListener('open', () => { clearTimeout(timer); resolve() }, { once: true })
      ws.addEventListener('close', (event) => { clearTimeout(timer); reject(new Error(`${url}: closed (${event.code} ${event.reason})`)) }, { once: true })
    })
    const connection = new Connection(url, ws, timeoutMs)
    try {
      connection.device = await makeDevice()
      await connection.device.load({ routerRtpCapabilities: await connection.request<types.RtpCapabilities>('getRouterRtpCapabilities') })
    } catch (err) {
      connection.close()
      throw err
    }
    return connection
  }

  async request<T = unknown> (method: string, data: object = {}): Promise<T> {
    if (this.closed) throw new Error(`${this.url}: connection closed`)
    const id = this.nextId++
    const reply = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`${method} to ${this.url} took over ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      this.pending.set(id, { resolve: resolve as (data: unknown) => void, reject, timer })
    })
    this.ws.send(JSON.stringify({ id, method, data }))
    return await reply
  }

  async sendTransport (): Promise<types.Transport> {
    this.send ??= this.transport('send')
    return await this.send
  }

  async recvTransport (): Promise<types.Transport> {
    this.recv ??= this.transport('recv')
    return await this.recv
  }

  private async transport (direction: 'send' | 'recv'): Promise<types.Transport> {
    // With SCTP, so the transport can carry data channels too (the node starts no association until one is used).
    const info = await this.request<TransportInfo>('createWebRtcTransport', { direction, sctpCapabilities: this.device.sctpCapabilities })
    const transport = direction === 'send' ? this.device.createSendTransport(info) : this.device.createRecvTransport(info)
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback)
    })
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, appData }).then(callback, errback)
    })
    transport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) => {
      this.request<{ id: string }>('produceData', { transportId: transport.id, sctpStreamParameters, label, protocol, appData }).then(callback, errback)
    })
    transport.on('connectionstatechange', (state) => { if (state === 'failed') this.fail(`${direction} transport failed`) })
    return transport
  }

  /** Resolves once `transport` is connected (ICE and DTLS); rejects if it fails, closes or takes over the request deadline. */
  async connected (transport: types.Transport): Promise<void> {
    if (transport.connectionState === 'connected') return
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        transport.off('connectionstatechange', onChange)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onChange = (state: string): void => {
        if (state === 'connected') done()
        else if (state === 'failed' || state === 'closed') done(new Error(`${this.url}: transport ${state}`))
      }
      const timer = setTimeout(() => done(new Error(`${this.url}: transport not connected within ${this.timeoutMs} ms`)), this.timeoutMs)
      transport.on('connectionstatechange', onChange)
    })
  }

  /** Closes the WebSocket and the transports (the node closes what the connection made). */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.rejectAll('connection closed')
    this.ws.close()
    for (const transport of [this.send, this.recv]) void transport?.then((t) => t.close(), () => {})
  }

  private fail (why: string): void {
    if (this.closed) return
    console.warn(`${this.url}: ${why}`)
    this.close()
    this.onLost()
  }

  private rejectAll (why: string): void {
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error(`${this.url}: ${why}`))
    }
    this.pending.clear()
  }
}
