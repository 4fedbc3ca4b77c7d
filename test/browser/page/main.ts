// The test page's script (bundled by test/browser/harness.ts with esbuild, never committed
// as a bundle): an app of the shipped browser helper, mediasoup-swarm/client (src/client),
// so the browser tests exercise it. Type-checked with the DOM library by ./tsconfig.json.
import { SwarmClient } from '../../../src/client/index.js'
import type { ClientEventRecord, DataReport, ElementReport, FrameSample, PublishOptions, PublishResult, SwarmTestApi, TrackStats } from './api.js'
import type { types } from 'mediasoup-client'

declare global {
  interface Window { swarmTest: SwarmTestApi }
}

/** Clients and streams stay referenced so they are not collected while the page lives. */
const keep: unknown[] = []

async function publish (wsUrl: string, options: PublishOptions): Promise<PublishResult> {
  const client = await SwarmClient.connect({ urls: [wsUrl] })
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: options.audio,
    video: options.video ? { width: options.width ?? 640, height: options.height ?? 480 } : false
  })
  const result: PublishResult = { handlerName: client.handlerName }
  const codec = options.codec === undefined ? undefined : client.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === options.codec!.toLowerCase())
  if (options.codec !== undefined && codec === undefined) throw new Error(`the device cannot send ${options.codec}`)
  for (const track of stream.getTracks()) {
    const video = track.kind === 'video' ? { encodings: options.encodings, codec } : {}
    const publication = await client.publish(track, { label: track.label }, video)
    result[track.kind as 'audio' | 'video'] = publication.producerId
  }
  keep.push(client, stream)
  return result
}

interface Viewed {
  client: SwarmClient
  producerId: string
  kind: 'audio' | 'video'
  stream: MediaStream
  element: HTMLMediaElement
  ended: boolean
  /** Epoch ms of every frame the element painted. */
  paints: number[]
  firstFrameMs?: number
  firstFrameSinceLoadMs?: number
}

const viewed: Viewed[] = []
const events: ClientEventRecord[] = []
const samples: FrameSample[] = []

function record (client: SwarmClient): void {
  const at = (type: ClientEventRecord['type']) => (detail: object) => events.push({ at: Date.now(), type, detail: { ...detail } })
  client.on('restored', at('restored')).on('reconnected', at('reconnected')).on('closed', at('closed')).on('layerschange', at('layerschange'))
  client.on('ended', (detail) => {
    at('ended')(detail)
    for (const entry of viewed) if (entry.client === client && entry.producerId === detail.producerId) entry.ended = true
  })
}

function attach (entry: Viewed, startedAt: number): void {
  const { element } = entry
  element.id = `media-${entry.producerId}`
  element.autoplay = true
  element.muted = entry.kind === 'video'
  if (element instanceof HTMLVideoElement) {
    element.playsInline = true
    element.width = 320
    // Every painted frame, for as long as the page lives: proves the element shows the
    // track that replaced the old one in the same MediaStream.
    const onFrame = (): void => {
      const now = performance.now()
      if (entry.firstFrameMs === undefined) {
        entry.firstFrameMs = now - startedAt
        entry.firstFrameSinceLoadMs = now
      }
      entry.paints.push(Date.now())
      element.requestVideoFrameCallback(onFrame)
    }
    element.requestVideoFrameCallback(onFrame)
  }
  element.srcObject = entry.stream
  document.getElementById('media')?.append(element)
}

async function view (urls: string | string[], producerIds: string[]): Promise<string[]> {
  const startedAt = performance.now()
  const client = await SwarmClient.connect({ urls: typeof urls === 'string' ? [urls] : urls })
  record(client)
  keep.push(client)
  const ids: string[] = []
  for (const producerId of producerIds) {
    const stream = await client.consume(producerId)
    const consumer = client.consumerOf(producerId)!
    const entry: Viewed = {
      client, producerId, kind: consumer.kind, stream, ended: false, paints: [],
      element: document.createElement(consumer.kind === 'video' ? 'video' : 'audio')
    }
    viewed.push(entry)
    attach(entry, startedAt)
    ids.push(consumer.id)
  }
  return ids
}

async function inboundRtp (entry: Viewed): Promise<RTCInboundRtpStreamStats | undefined> {
  const consumer = entry.client.consumerOf(entry.producerId)
  if (consumer === undefined || entry.ended) return undefined
  for (const s of (await consumer.getStats()).values() as IterableIterator<Record<string, unknown>>) {
    if (s.type === 'inbound-rtp') return s as unknown as RTCInboundRtpStreamStats
  }
  return undefined
}

async function stats (): Promise<TrackStats[]> {
  return await Promise.all(viewed.map(async (entry) => {
    const base: TrackStats = {
      consumerId: entry.client.consumerOf(entry.producerId)?.id ?? '',
      producerId: entry.producerId,
      kind: entry.kind,
      closed: entry.ended,
      packetsReceived: 0,
      packetsLost: 0,
      bytesReceived: 0
    }
    const inbound = await inboundRtp(entry)
    if (inbound === undefined) return base
    base.packetsReceived = inbound.packetsReceived ?? 0
    base.packetsLost = inbound.packetsLost ?? 0
    base.bytesReceived = inbound.bytesReceived ?? 0
    if (entry.kind === 'video') {
      base.framesDecoded = inbound.framesDecoded ?? 0
      base.frameWidth = inbound.frameWidth
      base.frameHeight = inbound.frameHeight
      base.firstFrameMs = entry.firstFrameMs
      base.firstFrameSinceLoadMs = entry.firstFrameSinceLoadMs
    }
    return base
  }))
}

async function startSampling (intervalMs: number): Promise<void> {
  setInterval(() => {
    for (const entry of viewed) {
      if (entry.kind !== 'video') continue
      const consumerId = entry.client.consumerOf(entry.producerId)?.id ?? ''
      void inboundRtp(entry).then((inbound) => {
        if (inbound !== undefined) samples.push({ at: Date.now(), producerId: entry.producerId, consumerId, framesDecoded: inbound.framesDecoded ?? 0 })
      })
    }
  }, intervalMs)
}

async function elements (since: number): Promise<ElementReport[]> {
  return viewed.map((entry) => {
    const live = entry.stream.getTracks().filter((t) => t.readyState === 'live')
    const painted = entry.paints.filter((t) => t > since)
    let longestPaintGapMs = 0
    let previous = since
    for (const t of [...painted, Date.now()]) {
      longestPaintGapMs = Math.max(longestPaintGapMs, t - previous)
      previous = t
    }
    return {
      producerId: entry.producerId,
      kind: entry.kind,
      sameStream: entry.element.srcObject === entry.stream,
      tracks: entry.stream.getTracks().length,
      currentTrack: live.length === 1 && live[0] === entry.client.consumerOf(entry.producerId)?.track,
      paintedSince: painted.length,
      firstPaintSince: painted[0],
      longestPaintGapMs
    }
  })
}

let dataProducer: types.DataProducer | undefined
const dataReport: DataReport = { messages: [], probes: 0, ended: false }

/** Resolves once a data channel (of a DataProducer or DataConsumer) is open. */
async function opened (channel: types.DataProducer | types.DataConsumer): Promise<void> {
  if (channel.readyState === 'open') return
  // Both emit 'open'; the union of their typed emitters has no common once().
  await new Promise<void>((resolve) => { (channel as types.DataProducer).once('open', () => resolve()) })
}

async function publishData (wsUrl: string, label: string): Promise<string> {
  const client = await SwarmClient.connect({ urls: [wsUrl] })
  keep.push(client)
  dataProducer = await client.publishData({ label, ordered: true })
  await opened(dataProducer)
  return dataProducer.id
}

async function sendData (prefix: string, count: number): Promise<void> {
  if (dataProducer === undefined) throw new Error('publishData() first')
  for (let i = 0; i < count; i++) dataProducer.send(`${prefix}${i}`)
}

async function consumeData (wsUrl: string, dataProducerId: string, prefix: string): Promise<string> {
  const client = await SwarmClient.connect({ urls: [wsUrl] })
  keep.push(client)
  client.on('dataended', () => { dataReport.ended = true })
  const shown = document.createElement('pre')
  shown.id = `data-${dataProducerId}`
  shown.style.color = '#eee'
  document.getElementById('media')?.append(shown)
  const dataConsumer = await client.consumeData(dataProducerId)
  dataConsumer.on('message', (data: unknown) => {
    const text = String(data)
    if (text.startsWith(prefix)) dataReport.messages.push(text)
    else dataReport.probes++
    shown.textContent = `${dataConsumer.label}: ${dataReport.messages.length} messages, last ${text}`
  })
  await opened(dataConsumer)
  return dataConsumer.id
}

window.swarmTest = {
  publishData,
  sendData,
  consumeData,
  dataReport: async () => ({ ...dataReport, messages: [...dataReport.messages] }),
  publish,
  view,
  stats,
  startSampling,
  samples: async () => samples,
  clientEvents: async () => events,
  elements,
  setPreferredLayers: async (producerId, spatialLayer, temporalLayer) => {
    const entry = viewed.find((v) => v.producerId === producerId && !v.ended)
    if (entry === undefined) throw new Error(`${producerId} is not viewed`)
    await entry.client.setPreferredLayers(producerId, temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer })
  }
}
