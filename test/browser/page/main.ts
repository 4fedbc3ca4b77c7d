// The test page's script (bundled by test/browser/harness.ts with esbuild, never committed
// as a bundle): a minimal mediasoup-client app speaking docs/client-signalling.md.
// Type-checked with the DOM library by ./tsconfig.json (the root one is for Node only).
import { Device } from 'mediasoup-client'
import type { types } from 'mediasoup-client'
import type { PublishOptions, PublishResult, SwarmTestApi, TrackStats } from './api.js'

declare global {
  interface Window { swarmTest: SwarmTestApi }
}

const REQUEST_TIMEOUT_MS = 10_000

interface Reply { id: number, ok: boolean, data?: unknown, error?: { name: string, message: string } }
interface ConsumerClosed { notification: 'consumerClosed', data: { consumerId: string, producerId: string } }

/** One signalling WebSocket: numbered requests, replies matched by id. */
class Signal {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (data: unknown) => void, reject: (err: Error) => void }>()
  onConsumerClosed: (consumerId: string) => void = () => {}

  private constructor (private readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as Reply | ConsumerClosed
      if ('notification' in message) {
        if (message.notification === 'consumerClosed') this.onConsumerClosed(message.data.consumerId)
        return
      }
      const waiter = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.ok) waiter?.resolve(message.data)
      else waiter?.reject(Object.assign(new Error(`${message.error?.name}: ${message.error?.message}`), { name: message.error?.name ?? 'Error' }))
    })
    ws.addEventListener('close', (event) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`signalling closed (${event.code} ${event.reason})`))
      this.pending.clear()
    })
  }

  static async open (url: string): Promise<Signal> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true })
      ws.addEventListener('close', (event) => reject(new Error(`signalling refused (${event.code} ${event.reason})`)), { once: true })
    })
    return new Signal(ws)
  }

  async request<T> (method: string, data: object = {}): Promise<T> {
    const id = this.nextId++
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (data: unknown) => void, reject })
      setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`${method} timed out`))
      }, REQUEST_TIMEOUT_MS)
    })
    this.ws.send(JSON.stringify({ id, method, data }))
    return await reply
  }
}

interface TransportInfo {
  id: string
  iceParameters: types.IceParameters
  iceCandidates: types.IceCandidate[]
  dtlsParameters: types.DtlsParameters
}

async function loadDevice (signal: Signal): Promise<Device> {
  const device = await Device.factory()
  await device.load({ routerRtpCapabilities: await signal.request<types.RtpCapabilities>('getRouterRtpCapabilities') })
  return device
}

function wireConnect (transport: types.Transport, signal: Signal): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signal.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback)
  })
}

/** Signals and transports stay referenced so they are not collected while the page lives. */
const keep: unknown[] = []

async function publish (wsUrl: string, options: PublishOptions): Promise<PublishResult> {
  const signal = await Signal.open(wsUrl)
  const device = await loadDevice(signal)
  const info = await signal.request<TransportInfo>('createWebRtcTransport', { direction: 'send' })
  const transport = device.createSendTransport(info)
  wireConnect(transport, signal)
  transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
    signal.request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, appData }).then(callback, errback)
  })
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: options.audio,
    video: options.video ? { width: 640, height: 480 } : false
  })
  const result: PublishResult = { handlerName: device.handlerName }
  for (const track of stream.getTracks()) {
    const producer = await transport.produce({ track, appData: { label: track.label } })
    result[producer.kind] = producer.id
  }
  keep.push(signal, transport, stream)
  return result
}

interface Viewed {
  consumer: types.Consumer
  closed: boolean
  firstFrameMs?: number
  firstFrameSinceLoadMs?: number
}

const viewed: Viewed[] = []

function attach (entry: Viewed, startedAt: number): void {
  const { consumer } = entry
  const element = document.createElement(consumer.kind === 'video' ? 'video' : 'audio')
  element.id = `consumer-${consumer.id}`
  element.autoplay = true
  element.muted = consumer.kind === 'video'
  if (element instanceof HTMLVideoElement) {
    element.playsInline = true
    element.width = 320
    element.requestVideoFrameCallback(() => {
      const now = performance.now()
      entry.firstFrameMs = now - startedAt
      entry.firstFrameSinceLoadMs = now
    })
  }
  element.srcObject = new MediaStream([consumer.track])
  document.getElementById('media')?.append(element)
}

async function view (wsUrl: string, producerIds: string[]): Promise<string[]> {
  const startedAt = performance.now()
  const signal = await Signal.open(wsUrl)
  const device = await loadDevice(signal)
  const info = await signal.request<TransportInfo>('createWebRtcTransport', { direction: 'recv' })
  const transport = device.createRecvTransport(info)
  wireConnect(transport, signal)
  const mine = new Map<string, Viewed>()
  signal.onConsumerClosed = (consumerId) => {
    const entry = mine.get(consumerId)
    if (entry === undefined) return
    entry.closed = true
    entry.consumer.close()
  }
  keep.push(signal, transport)
  const ids: string[] = []
  for (const producerId of producerIds) {
    const params = await signal.request<{ id: string, producerId: string, kind: types.MediaKind, rtpParameters: types.RtpParameters }>(
      'consume', { transportId: transport.id, producerId, rtpCapabilities: device.recvRtpCapabilities })
    const consumer = await transport.consume(params)
    const entry: Viewed = { consumer, closed: false }
    mine.set(consumer.id, entry)
    viewed.push(entry)
    attach(entry, startedAt)
    // The server created it paused: resume only now that the track has a sink, then ask
    // for a key frame so the decoder can start at once instead of at the next periodic one.
    await signal.request('resumeConsumer', { consumerId: consumer.id })
    if (consumer.kind === 'video') await signal.request('requestKeyFrame', { consumerId: consumer.id })
    ids.push(consumer.id)
  }
  return ids
}

async function stats (): Promise<TrackStats[]> {
  return await Promise.all(viewed.map(async (entry) => {
    const { consumer } = entry
    const base: TrackStats = {
      consumerId: consumer.id,
      producerId: consumer.producerId,
      kind: consumer.kind,
      closed: entry.closed,
      packetsReceived: 0,
      packetsLost: 0,
      bytesReceived: 0
    }
    if (entry.closed) return base
    for (const s of (await consumer.getStats()).values() as IterableIterator<Record<string, unknown>>) {
      if (s.type !== 'inbound-rtp') continue
      const inbound = s as unknown as RTCInboundRtpStreamStats
      base.packetsReceived = inbound.packetsReceived ?? 0
      base.packetsLost = inbound.packetsLost ?? 0
      base.bytesReceived = inbound.bytesReceived ?? 0
      if (consumer.kind === 'video') {
        base.framesDecoded = inbound.framesDecoded ?? 0
        base.frameWidth = inbound.frameWidth
        base.frameHeight = inbound.frameHeight
        base.firstFrameMs = entry.firstFrameMs
        base.firstFrameSinceLoadMs = entry.firstFrameSinceLoadMs
      }
    }
    return base
  }))
}

window.swarmTest = { publish, view, stats }
