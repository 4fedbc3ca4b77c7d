// The browser client (bundled with mediasoup-client by the server, served as /client.js):
// publishes the camera and microphone to a room, or views a room. Nothing in it knows
// about the swarm: a viewer gets the same producers wherever they were published.
// Type-checked by ./tsconfig.json (DOM library); the directive above is for the root
// tsconfig, whose `examples` include takes this file in too.
import { Device } from 'mediasoup-client'
import type { types } from 'mediasoup-client'
import type { Notification, ProducerInfo, Reply } from '../protocol.js'
import type { ClientApp, TrackStats } from './api.js'

declare global {
  interface Window { app: ClientApp }
}

interface TransportInfo {
  id: string
  iceParameters: types.IceParameters
  iceCandidates: types.IceCandidate[]
  dtlsParameters: types.DtlsParameters
}

/** The app's WebSocket: numbered requests whose replies are matched by id, and notifications. */
class Signalling {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (data: unknown) => void, reject: (err: Error) => void }>()
  onNotification: (message: Notification) => void = () => {}

  private constructor (private readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as Reply | Notification
      if ('notification' in message) return this.onNotification(message)
      const waiter = this.waiting.get(message.id)
      this.waiting.delete(message.id)
      if (message.ok) waiter?.resolve(message.data)
      else waiter?.reject(new Error(message.error))
    })
    ws.addEventListener('close', () => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error('connection closed'))
      this.waiting.clear()
      setStatus('disconnected')
    })
  }

  static async open (): Promise<Signalling> {
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`)
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true })
      ws.addEventListener('error', () => reject(new Error('cannot connect to the server')), { once: true })
    })
    return new Signalling(ws)
  }

  async request<T = unknown> (method: string, data: object = {}): Promise<T> {
    const id = this.nextId++
    this.ws.send(JSON.stringify({ id, method, data }))
    return await new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve: resolve as (data: unknown) => void, reject }))
  }
}

/** Joins `room` and loads a mediasoup-client Device with the server's router capabilities. */
async function join (signalling: Signalling, room: string): Promise<{ device: types.Device, producers: ProducerInfo[] }> {
  const { rtpCapabilities, producers } = await signalling.request<{ rtpCapabilities: types.RtpCapabilities, producers: ProducerInfo[] }>('join', { room })
  const device = await Device.factory()
  await device.load({ routerRtpCapabilities: rtpCapabilities })
  return { device, producers }
}

function onConnect (transport: types.Transport, signalling: Signalling): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signalling.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(callback, errback)
  })
}

function show (track: MediaStreamTrack, id: string, muted: boolean): void {
  const element = document.createElement(track.kind === 'video' ? 'video' : 'audio')
  element.id = id
  element.autoplay = true
  element.muted = muted
  element.srcObject = new MediaStream([track])
  document.getElementById('media')?.append(element)
}

function setStatus (text: string): void {
  const status = document.getElementById('status')
  if (status !== null) status.textContent = text
}

async function publish (room: string): Promise<string[]> {
  const signalling = await Signalling.open()
  const { device } = await join(signalling, room)
  const transport = device.createSendTransport(await signalling.request<TransportInfo>('createTransport', { direction: 'send' }))
  onConnect(transport, signalling)
  transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
    signalling.request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters }).then(callback, errback)
  })
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } })
  const ids: string[] = []
  for (const track of stream.getTracks()) {
    const producer = await transport.produce({ track })
    ids.push(producer.id)
    if (track.kind === 'video') show(track, 'preview', true)
  }
  setStatus(`publishing to room ${room}`)
  return ids
}

const consumers = new Map<string, types.Consumer>() // by consumer id

async function view (room: string): Promise<void> {
  const signalling = await Signalling.open()
  const wanted = new Set<string>() // producer ids: listed at join, and maybe announced too
  let setUp = (): void => {}
  const ready = new Promise<void>((resolve) => { setUp = resolve })
  signalling.onNotification = ({ notification, data }) => {
    if (notification === 'newProducer') {
      ready.then(async () => await consume(data)).catch((err: Error) => setStatus(`cannot view ${data.id}: ${err.message}`))
      return
    }
    const consumer = notification === 'consumerClosed'
      ? consumers.get(data.consumerId)
      : [...consumers.values()].find((c) => c.producerId === data.id)
    if (consumer === undefined) return
    consumer.close()
    consumers.delete(consumer.id)
    document.getElementById(`consumer-${consumer.id}`)?.remove()
  }
  const { device, producers } = await join(signalling, room)
  const transport = device.createRecvTransport(await signalling.request<TransportInfo>('createTransport', { direction: 'recv' }))
  onConnect(transport, signalling)
  const consume = async ({ id }: ProducerInfo): Promise<void> => {
    if (wanted.has(id)) return
    wanted.add(id)
    const params = await signalling.request<types.ConsumerOptions>('consume', { transportId: transport.id, producerId: id, rtpCapabilities: device.recvRtpCapabilities })
    const consumer = await transport.consume(params)
    consumers.set(consumer.id, consumer)
    show(consumer.track, `consumer-${consumer.id}`, consumer.kind === 'video')
    await signalling.request('resume', { consumerId: consumer.id })
  }
  await Promise.all(producers.map(consume))
  setUp()
  setStatus(`viewing room ${room}`)
}

async function stats (): Promise<TrackStats[]> {
  const all: TrackStats[] = []
  for (const consumer of consumers.values()) {
    const entry: TrackStats = { producerId: consumer.producerId, kind: consumer.kind, packetsReceived: 0 }
    for (const report of (await consumer.getStats()).values() as IterableIterator<RTCInboundRtpStreamStats>) {
      if (report.type !== 'inbound-rtp') continue
      entry.packetsReceived = report.packetsReceived ?? 0
      if (consumer.kind === 'video') entry.framesDecoded = report.framesDecoded ?? 0
    }
    all.push(entry)
  }
  return all
}

window.app = { publish, view, stats }

// Buttons, and links such as /?room=demo&action=view
function start (action: 'publish' | 'view'): void {
  const room = (document.getElementById('room') as HTMLInputElement).value
  setStatus(`${action === 'publish' ? 'publishing to' : 'joining'} room ${room}…`)
  void window.app[action](room).catch((err: Error) => setStatus(`failed: ${err.message}`))
}
document.getElementById('publish')?.addEventListener('click', () => start('publish'))
document.getElementById('view')?.addEventListener('click', () => start('view'))
const query = new URLSearchParams(location.search)
const roomInput = document.getElementById('room') as HTMLInputElement
roomInput.value = query.get('room') ?? roomInput.value
const action = query.get('action')
if (action === 'publish' || action === 'view') start(action)
