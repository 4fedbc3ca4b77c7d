// The browser helper shipped as `mediasoup-swarm/client` (docs/client-signalling.md, "Client
// helper"): publishes and views over a node's signalling with mediasoup-client. Each viewed
// producer lives in one MediaStream for the client's whole life: when the node re-creates
// its consumer (consumerRestored) or the client moves to another node of `urls` (nodeDraining,
// lost connection), the new track replaces the old one in that same MediaStream.
// Everything that touches the connection runs one step at a time (a queue), so a move never
// races a consume or a restore.
import { Device } from 'mediasoup-client'
import type { types } from 'mediasoup-client'
import { Connection } from './connection.js'
import type { ConsumerInfo, ConsumerLayers, DataConsumerInfo, Notification, RoomProducerInfo } from './connection.js'

export { SignallingRequestError } from './connection.js'
export type { ConsumerCloseReason, ConsumerLayers, RoomProducerInfo } from './connection.js'

export interface SwarmClientOptions {
  /** Signalling URLs (`ws://…/ws`) of nodes, in order of preference. Required, at least one. */
  urls: string[]
  /** Client token (`?token=`), or a function giving a fresh one for each connection. Default none. */
  token?: string | ((url: string) => string | Promise<string>)
  /** Deadline of one signalling request. Default 10000 ms. */
  requestTimeoutMs?: number
  /** After a lost connection: how many times every URL is tried before giving up. Default 3. */
  reconnectRounds?: number
  /** Pause between two rounds of reconnection. Default 1000 ms. */
  reconnectDelayMs?: number
}

export interface SwarmClientEvents {
  /** The node re-created the consumer of a viewed producer; the new track is in the same MediaStream. */
  restored: { producerId: string, oldConsumerId: string, consumerId: string }
  /**
   * The client moved to another node (`reason`: the node drained, or the connection was
   * lost) and publishes and views everything there again. Publications have new producer
   * ids there (`republished`): tell the viewers.
   */
  reconnected: { url: string, previousUrl: string, reason: 'draining' | 'lost', republished: Array<{ previousProducerId: string, producerId: string }> }
  /** A viewed producer is gone for good (`reason` from consumerClosed, or the error of consuming it again). */
  ended: { producerId: string, reason: string }
  /** The client is closed: by close(), or because no node of `urls` could be reached. */
  closed: { reason: 'closed' | 'unreachable' }
  /**
   * A data consumer was closed by the node: its data producer closed, or the path bringing
   * it broke. Not re-created: consumeData() again (it fails with NotFound when it is gone).
   */
  dataended: { dataProducerId: string, dataConsumerId: string }
  /** The layers the node sends of a viewed simulcast or SVC producer changed (null: none). */
  layerschange: { producerId: string, layers: ConsumerLayers | null }
  /** A producer appeared in a room followed with listProducers(room), on any node of the swarm. */
  newproducer: { room: string, producer: RoomProducerInfo }
  /** A producer of a followed room closed. */
  producerclosed: { room: string, producerId: string }
}

/** What publishData() takes (the data channel's options, as RTCDataChannel's). */
export interface PublishDataOptions {
  /** Default true. */
  ordered?: boolean
  /** Unordered only: give up a message after this long (ms). */
  maxPacketLifeTime?: number
  /** Unordered only: give up a message after this many retransmissions. */
  maxRetransmits?: number
  /** Default ''. */
  label?: string
  /** Default ''. */
  protocol?: string
  /** Sent to the node (`appData.room` is set from a room grant). */
  appData?: Record<string, unknown>
}

/** What publish() passes on to mediasoup-client's `transport.produce()` besides the track. */
export interface PublishOptions {
  /** Simulcast: one entry per encoding (e.g. `scaleResolutionDownBy` 4, 2, 1); SVC: one with `scalabilityMode` ('L3T3'). */
  encodings?: types.RtpEncodingParameters[]
  /** The codec to send (one of the device's `rtpCapabilities.codecs`), e.g. VP9 for SVC. */
  codec?: types.RtpCodecCapability
}

type Listener<E extends keyof SwarmClientEvents> = (event: SwarmClientEvents[E]) => void

/** A track published with publish(); its producer id changes when the client moves to another node. */
export interface Publication {
  readonly track: MediaStreamTrack
  readonly appData: Record<string, unknown>
  /** The id viewers consume, on the node the client is connected to now. */
  readonly producerId: string
}

interface Published extends Publication { producer: types.Producer, options: PublishOptions }
interface Viewed {
  producerId: string
  stream: MediaStream
  consumer?: types.Consumer
  /** Asked with setPreferredLayers() / setPriority(): asked again of each new consumer (restored, moved). */
  layers?: ConsumerLayers
  priority?: number
}

/** How long a move keeps the old track playing while the new consumer has no media yet. */
const MOVE_MEDIA_WAIT_MS = 3000

/** Resolves once `consumer` has media (a decoded frame, an audio packet), or after `timeoutMs`. */
async function firstMedia (consumer: types.Consumer, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline && !consumer.closed) {
    for (const s of (await consumer.getStats()).values() as IterableIterator<{ type: string, framesDecoded?: number, packetsReceived?: number }>) {
      if (s.type === 'inbound-rtp' && ((consumer.kind === 'video' ? s.framesDecoded : s.packetsReceived) ?? 0) > 0) return
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Puts a consumer's track in the entry's MediaStream in place of the old one's, and closes the old one. */
function swapIn (entry: Viewed, consumer: types.Consumer): void {
  const old = entry.consumer
  if (old !== undefined) entry.stream.removeTrack(old.track)
  entry.stream.addTrack(consumer.track)
  entry.consumer = consumer
  old?.close()
}

/** Consumer close reasons after which the node re-creates the consumer (or says producerclosed). */
const WAIT_FOR_RESTORE = new Set(['upstreamlost', 'moving', 'nodestopping'])

export class SwarmClient {
  private readonly published = new Set<Published>()
  private readonly viewed = new Map<string, Viewed>()
  private readonly listeners: { [E in keyof SwarmClientEvents]: Set<Listener<E>> } = {
    restored: new Set(), reconnected: new Set(), ended: new Set(), closed: new Set(), dataended: new Set(), layerschange: new Set(), newproducer: new Set(), producerclosed: new Set()
  }
  /** Data consumers by id: they are not moved to another node (see publishData()). */
  private readonly dataConsumers = new Map<string, types.DataConsumer>()

  /** Rooms followed with listProducers(room), with the ids of their producers as last known. */
  private readonly rooms = new Map<string, Set<string>>()

  /** URLs whose node said it drains: not moved to after a drain. */
  private readonly drainingUrls = new Set<string>()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor (private readonly options: Required<Omit<SwarmClientOptions, 'token'>> & Pick<SwarmClientOptions, 'token'>, private connection: Connection) {
    this.watch(connection)
  }

  /** Connects to the first URL of `urls` that answers. */
  static async connect (options: SwarmClientOptions): Promise<SwarmClient> {
    if (!Array.isArray(options.urls) || options.urls.length === 0) throw new TypeError('urls must list at least one signalling URL')
    const resolved = { requestTimeoutMs: 10_000, reconnectRounds: 3, reconnectDelayMs: 1000, ...options }
    let lastError: unknown
    for (const url of options.urls) {
      try {
        return new SwarmClient(resolved, await Connection.open(url, resolved.token, resolved.requestTimeoutMs, async () => await Device.factory()))
      } catch (err) {
        lastError = err
      }
    }
    throw lastError
  }

  /** The signalling URL of the node the client uses now. */
  get url (): string {
    return this.connection.url
  }

  /** What this browser can send and receive, as loaded for the node (e.g. to pick a codec for publish()). */
  get rtpCapabilities (): types.RtpCapabilities {
    return this.connection.device.rtpCapabilities
  }

  /** mediasoup-client's handler for this browser, e.g. 'Chrome111'. */
  get handlerName (): string {
    return this.connection.device.handlerName
  }

  on<E extends keyof SwarmClientEvents> (event: E, listener: Listener<E>): this {
    this.listeners[event].add(listener)
    return this
  }

  off<E extends keyof SwarmClientEvents> (event: E, listener: Listener<E>): this {
    this.listeners[event].delete(listener)
    return this
  }

  /**
   * Sends `track` (it is not stopped when the client moves or closes: it is the app's);
   * `options.encodings` for simulcast or SVC.
   */
  async publish (track: MediaStreamTrack, appData: Record<string, unknown> = {}, options: PublishOptions = {}): Promise<Publication> {
    return await this.step(async () => {
      const producer = await this.produce(this.connection, track, appData, options)
      const publication: Published = { track, appData, producer, options, get producerId () { return this.producer.id } }
      this.published.add(publication)
      return publication
    })
  }

  /** Stops sending a publication. */
  async unpublish (publication: Publication): Promise<void> {
    await this.step(async () => {
      const entry = publication as Published
      if (!this.published.delete(entry)) return
      entry.producer.close()
      await this.connection.request('closeProducer', { producerId: entry.producer.id }).catch(() => {})
    })
  }

  /**
   * Views a producer: resolves with its MediaStream (one track), which stays the same
   * object when the consumer is restored or the client moves; the same one for a producer
   * viewed already.
   */
  async consume (producerId: string): Promise<MediaStream> {
    return await this.step(async () => {
      const known = this.viewed.get(producerId)
      if (known !== undefined) return known.stream
      const entry: Viewed = { producerId, stream: new MediaStream() }
      await this.consumeOn(this.connection, entry)
      this.viewed.set(producerId, entry)
      return entry.stream
    })
  }

  /** Stops viewing a producer (its MediaStream gets no more media). */
  async stopConsuming (producerId: string): Promise<void> {
    await this.step(async () => {
      const entry = this.viewed.get(producerId)
      if (entry === undefined) return
      this.viewed.delete(producerId)
      await this.drop(entry)
    })
  }

  /**
   * Opens a data channel to the node: resolves with mediasoup-client's DataProducer (send()
   * once its `open` event came; its id is what others consumeData()). Data channels are
   * not moved with the client: after `reconnected`, publish them again.
   */
  async publishData (options: PublishDataOptions = {}): Promise<types.DataProducer> {
    return await this.step(async () => {
      const transport = await this.connection.sendTransport()
      return await transport.produceData(options)
    })
  }

  /** Closes a data channel opened with publishData(). */
  async unpublishData (dataProducer: types.DataProducer): Promise<void> {
    await this.step(async () => {
      dataProducer.close()
      await this.connection.request('closeDataProducer', { dataProducerId: dataProducer.id }).catch(() => {})
    })
  }

  /**
   * Asks the node for these layers of a viewed simulcast or SVC producer (the node sends
   * them when the bandwidth allows, else the best below); kept for the consumers that
   * replace this one (restores, moves).
   */
  async setPreferredLayers (producerId: string, layers: ConsumerLayers): Promise<void> {
    await this.step(async () => {
      const entry = this.viewedEntry(producerId)
      entry.layers = layers
      await this.applyPreferences(this.connection, entry)
    })
  }

  /** The consumer's share of the bandwidth when it is short, against the client's other consumers (1-255, default 1). */
  async setPriority (producerId: string, priority: number): Promise<void> {
    await this.step(async () => {
      const entry = this.viewedEntry(producerId)
      entry.priority = priority
      await this.applyPreferences(this.connection, entry)
    })
  }

  /**
   * Receives the data producer `dataProducerId` (from anywhere in the swarm): resolves with
   * mediasoup-client's DataConsumer (its `message` events carry the data). Not moved with
   * the client: after `reconnected` or `dataended`, consume it again.
   */
  async consumeData (dataProducerId: string): Promise<types.DataConsumer> {
    return await this.step(async () => {
      const connection = this.connection
      const transport = await connection.recvTransport()
      const info = await connection.request<DataConsumerInfo>('consumeData', { transportId: transport.id, dataProducerId })
      try {
        const dataConsumer = await transport.consumeData(info)
        this.dataConsumers.set(dataConsumer.id, dataConsumer)
        dataConsumer.observer.on('close', () => this.dataConsumers.delete(dataConsumer.id))
        return dataConsumer
      } catch (err) {
        await connection.request('closeDataConsumer', { dataConsumerId: info.id }).catch(() => {})
        throw err
      }
    })
  }

  /** Stops receiving a data producer consumed with consumeData(). */
  async stopConsumingData (dataConsumer: types.DataConsumer): Promise<void> {
    await this.step(async () => {
      dataConsumer.close()
      await this.connection.request('closeDataConsumer', { dataConsumerId: dataConsumer.id }).catch(() => {})
    })
  }

  /**
   * The producers of `room` wherever in the swarm they were published; from then on the
   * client emits `newproducer` and `producerclosed` for the room (listed again on the node
   * it moves to, changes meanwhile reported).
   */
  async listProducers (room: string): Promise<RoomProducerInfo[]> {
    return await this.step(async () => {
      const { producers } = await this.connection.request<{ producers: RoomProducerInfo[] }>('listProducers', { room })
      this.rooms.set(room, new Set(producers.map((p) => p.id)))
      return producers
    })
  }

  /** The mediasoup-client Consumer now behind a viewed producer (for getStats()), if any. */
  consumerOf (producerId: string): types.Consumer | undefined {
    return this.viewed.get(producerId)?.consumer
  }

  /** Closes the connection, its transports and consumers; published tracks are left running. */
  close (): void {
    this.shutDown('closed')
  }

  private emit<E extends keyof SwarmClientEvents> (event: E, data: SwarmClientEvents[E]): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(data)
      } catch (err) {
        console.error(`a ${event} listener of SwarmClient threw`, err)
      }
    }
  }

  /** Runs `task` after every step queued before it. */
  private async step<T> (task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new Error('the client is closed')
      return await task()
    })
    this.queue = run.catch(() => {})
    return await run
  }

  private watch (connection: Connection): void {
    connection.onNotification = (notification) => {
      void this.step(async () => {
        if (connection === this.connection) await this.handle(connection, notification)
      }).catch((err: unknown) => console.warn(`SwarmClient: ${notification.notification} not handled`, err))
    }
    connection.onLost = () => {
      void this.step(async () => {
        if (connection === this.connection) await this.move('lost')
      }).catch(() => {})
    }
    // Said on connecting, before anyone listened.
    if (connection.draining) connection.onNotification({ notification: 'nodeDraining', data: {} })
  }

  private viewedEntry (producerId: string): Viewed {
    const entry = this.viewed.get(producerId)
    if (entry === undefined) throw new TypeError(`producer ${producerId} is not viewed`)
    return entry
  }

  /** Asks the node for the entry's preferred layers and priority on its current consumer. */
  private async applyPreferences (connection: Connection, entry: Viewed): Promise<void> {
    const consumerId = entry.consumer?.id
    if (consumerId === undefined) return
    if (entry.layers !== undefined) await connection.request('setConsumerPreferredLayers', { consumerId, ...entry.layers })
    if (entry.priority !== undefined) await connection.request('setConsumerPriority', { consumerId, priority: entry.priority })
  }

  private async handle (connection: Connection, notification: Notification): Promise<void> {
    if (notification.notification === 'newProducer') {
      const { room, producer } = notification.data
      const known = this.rooms.get(room)
      if (known === undefined || known.has(producer.id)) return
      known.add(producer.id)
      this.emit('newproducer', { room, producer })
      return
    }
    if (notification.notification === 'producerClosed') {
      const { room, producerId } = notification.data
      if (this.rooms.get(room)?.delete(producerId) === true) this.emit('producerclosed', { room, producerId })
      return
    }
    if (notification.notification === 'consumerLayersChanged') {
      const { consumerId, layers } = notification.data
      const entry = this.viewing(consumerId)
      if (entry !== undefined) this.emit('layerschange', { producerId: entry.producerId, layers })
      return
    }
    if (notification.notification === 'nodeDraining') {
      this.drainingUrls.add(connection.url)
      await this.move('draining')
      return
    }
    if (notification.notification === 'dataConsumerClosed') {
      const { dataConsumerId, dataProducerId } = notification.data
      this.dataConsumers.get(dataConsumerId)?.close()
      this.emit('dataended', { dataProducerId, dataConsumerId })
      return
    }
    if (notification.notification === 'consumerRestored') {
      const { oldConsumerId, consumer } = notification.data
      const entry = this.viewing(oldConsumerId)
      if (entry === undefined) {
        // Not viewed any more: the node need not keep it.
        await connection.request('closeConsumer', { consumerId: consumer.id }).catch(() => {})
        return
      }
      swapIn(entry, await this.resumed(connection, consumer, false))
      await this.applyPreferences(connection, entry)
      this.emit('restored', { producerId: entry.producerId, oldConsumerId, consumerId: consumer.id })
      return
    }
    const { consumerId, reason } = notification.data
    const entry = this.viewing(consumerId)
    // Waiting: the old track stays in place, silent, until the new one replaces it.
    if (entry === undefined || WAIT_FOR_RESTORE.has(reason)) return
    this.viewed.delete(entry.producerId)
    await this.drop(entry)
    this.emit('ended', { producerId: entry.producerId, reason })
  }

  private viewing (consumerId: string): Viewed | undefined {
    for (const entry of this.viewed.values()) if (entry.consumer?.id === consumerId) return entry
    return undefined
  }

  private async produce (connection: Connection, track: MediaStreamTrack, appData: Record<string, unknown>, options: PublishOptions): Promise<types.Producer> {
    const transport = await connection.sendTransport()
    // The track is the app's: neither a move nor close() may stop it.
    return await transport.produce({ track, appData, stopTracks: false, ...options })
  }

  private async consumeOn (connection: Connection, entry: Viewed): Promise<void> {
    swapIn(entry, await this.newConsumer(connection, entry.producerId, false))
  }

  /**
   * A resumed consumer of `producerId` on `connection`. With `seamless` (a move: the old
   * consumer still plays) it resolves once the new one has media, or after
   * MOVE_MEDIA_WAIT_MS.
   */
  private async newConsumer (connection: Connection, producerId: string, seamless: boolean): Promise<types.Consumer> {
    const transport = await connection.recvTransport()
    const info = await connection.request<ConsumerInfo>('consume', {
      transportId: transport.id, producerId, rtpCapabilities: connection.device.recvRtpCapabilities
    })
    return await this.resumed(connection, info, seamless)
  }

  private async resumed (connection: Connection, info: ConsumerInfo, seamless: boolean): Promise<types.Consumer> {
    const transport = await connection.recvTransport()
    const consumer = await transport.consume({ id: info.id, producerId: info.producerId, kind: info.kind, rtpParameters: info.rtpParameters })
    try {
      await connection.connected(transport)
      // Created paused by the node, so nothing was sent before this side was ready; a key
      // frame asked for, so the decoder starts at once instead of at the next periodic one.
      await connection.request('resumeConsumer', { consumerId: consumer.id })
      if (consumer.kind === 'video') await connection.request('requestKeyFrame', { consumerId: consumer.id })
      if (seamless) await firstMedia(consumer, MOVE_MEDIA_WAIT_MS)
    } catch (err) {
      consumer.close()
      await connection.request('closeConsumer', { consumerId: consumer.id }).catch(() => {})
      throw err
    }
    return consumer
  }

  private async drop (entry: Viewed): Promise<void> {
    const consumer = entry.consumer
    if (consumer === undefined) return
    entry.stream.removeTrack(consumer.track)
    consumer.close()
    await this.connection.request('closeConsumer', { consumerId: consumer.id }).catch(() => {})
  }

  /**
   * Moves to another node: connects, views and publishes everything there (so viewers see
   * no more than a short gap), then leaves the old node. After a drain the nodes known to
   * drain are skipped (with none left, the client stays); after a loss every URL is tried,
   * the lost one last, for `reconnectRounds` rounds.
   */
  private async move (reason: 'draining' | 'lost'): Promise<void> {
    const previous = this.connection
    const { urls } = this.options
    const at = urls.indexOf(previous.url)
    const others = [...urls.slice(at + 1), ...urls.slice(0, Math.max(at, 0))].filter((u) => u !== previous.url)
    const candidates = reason === 'draining'
      ? others.filter((u) => !this.drainingUrls.has(u))
      : [...others.filter((u) => !this.drainingUrls.has(u)), ...others.filter((u) => this.drainingUrls.has(u)), previous.url]
    if (candidates.length === 0) return
    const rounds = reason === 'draining' ? 1 : this.options.reconnectRounds
    for (let round = 0; round < rounds && !this.closed; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, this.options.reconnectDelayMs))
      for (const url of candidates) {
        if (this.closed) return
        let next: Connection | undefined
        try {
          next = await Connection.open(url, this.options.token, this.options.requestTimeoutMs, async () => await Device.factory())
          const republished = await this.rebuild(next)
          this.connection = next
          this.watch(next)
          previous.close()
          this.emit('reconnected', { url, previousUrl: previous.url, reason, republished })
          return
        } catch (err) {
          console.warn(`SwarmClient: moving to ${url} failed`, err)
          next?.close()
        }
      }
    }
    // Lost, and no node answers; or drained, and no other node could take the client.
    if (reason === 'lost') this.shutDown('unreachable')
  }

  /**
   * Views and publishes everything on `next`, then puts the new tracks in place; a producer
   * the node cannot find ends, any other failure leaves everything as it was.
   */
  private async rebuild (next: Connection): Promise<SwarmClientEvents['reconnected']['republished']> {
    // All at once: each may wait for its first media.
    const entries = [...this.viewed.values()]
    const results = await Promise.allSettled(entries.map(async (entry) => await this.newConsumer(next, entry.producerId, true)))
    const failure = results.find((r) => r.status === 'rejected' && !(r.reason instanceof Error && r.reason.name === 'NotFound'))
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason
    const producers: types.Producer[] = []
    for (const publication of this.published) producers.push(await this.produce(next, publication.track, publication.appData, publication.options))
    const listed = await Promise.all([...this.rooms.keys()].map(async (room) =>
      ({ room, producers: (await next.request<{ producers: RoomProducerInfo[] }>('listProducers', { room })).producers })))
    results.forEach((result, i) => {
      const entry = entries[i]!
      if (result.status === 'fulfilled') {
        swapIn(entry, result.value)
        void this.applyPreferences(next, entry).catch((err: unknown) => console.warn('SwarmClient: layers or priority not asked again', err))
        return
      }
      this.viewed.delete(entry.producerId)
      entry.consumer?.close()
      this.emit('ended', { producerId: entry.producerId, reason: 'NotFound' })
    })
    for (const { room, producers } of listed) this.relisted(room, producers)
    return [...this.published].map((publication, i) => {
      const previousProducerId = publication.producerId
      publication.producer = producers[i]!
      return { previousProducerId, producerId: publication.producerId }
    })
  }

  /** A followed room listed again on another node: what changed meanwhile is reported. */
  private relisted (room: string, producers: RoomProducerInfo[]): void {
    const known = this.rooms.get(room) ?? new Set<string>()
    const now = new Set(producers.map((p) => p.id))
    this.rooms.set(room, now)
    for (const producerId of known) if (!now.has(producerId)) this.emit('producerclosed', { room, producerId })
    for (const producer of producers) if (!known.has(producer.id)) this.emit('newproducer', { room, producer })
  }

  private shutDown (reason: 'closed' | 'unreachable'): void {
    if (this.closed) return
    this.closed = true
    for (const entry of this.viewed.values()) entry.consumer?.close()
    this.connection.close()
    this.emit('closed', { reason })
  }
}
