// What the test page exposes as `window.swarmTest`, shared by the page script (browser)
// and the harness (node). Types only: no DOM here, so node code can import it.

export interface PublishOptions {
  audio: boolean
  video: boolean
  /** Size asked of the fake camera. Default 640x480. */
  width?: number
  height?: number
  /** Video: simulcast encodings (e.g. scaleResolutionDownBy 4, 2, 1) or one SVC encoding (scalabilityMode). */
  encodings?: Array<{ scaleResolutionDownBy?: number, maxBitrate?: number, scalabilityMode?: string }>
  /** Video codec to send (mimeType, e.g. 'video/VP9'). Default the device's first. */
  codec?: string
}

/** Producer ids created by publish(), by kind (absent when that kind was not asked for). */
export interface PublishResult {
  audio?: string
  video?: string
  /** mediasoup-client handler picked for this browser, e.g. 'Chrome111'. */
  handlerName: string
}

/** inbound-rtp numbers of one consumed track (from its current consumer's getStats()). */
export interface TrackStats {
  /** The consumer now behind the track (it changes when the consumer is restored). */
  consumerId: string
  producerId: string
  kind: 'audio' | 'video'
  /** The producer ended for good (the helper's `ended` event). */
  closed: boolean
  packetsReceived: number
  packetsLost: number
  bytesReceived: number
  /** Video only. */
  framesDecoded?: number
  frameWidth?: number
  frameHeight?: number
  /** Video only: ms from the view() call to the first frame painted, once there was one. */
  firstFrameMs?: number
  /** Video only: ms from page navigation start to the first frame painted. */
  firstFrameSinceLoadMs?: number
}

/** framesDecoded of the current consumer of a viewed video producer, at one moment (epoch ms). */
export interface FrameSample {
  at: number
  producerId: string
  consumerId: string
  framesDecoded: number
}

/** An event of a page's SwarmClient (mediasoup-swarm/client), when it came (epoch ms). */
export interface ClientEventRecord {
  at: number
  type: 'restored' | 'reconnected' | 'ended' | 'closed' | 'layerschange'
  detail: Record<string, unknown>
}

/** How the media element of a viewed producer stands. */
export interface ElementReport {
  producerId: string
  kind: 'audio' | 'video'
  /** The element still plays the MediaStream the helper's consume() gave. */
  sameStream: boolean
  /** Tracks in that MediaStream. */
  tracks: number
  /** Its live track is the track of the consumer now behind it. */
  currentTrack: boolean
  /** Video only: frames the element painted after `since`, and when the first was (epoch ms). */
  paintedSince: number
  firstPaintSince?: number
  /** Video only: the longest time without a painted frame from `since` to now, ms (the freeze a person sees). */
  longestPaintGapMs: number
}

/** Messages a page's data consumer received so far (in order of arrival) and what it heard. */
export interface DataReport {
  /** Counted messages (those starting with the prefix given to consumeData()), in order. */
  messages: string[]
  /** Warm-up messages (any other), counted only. */
  probes: number
  /** The node closed the data consumer (the helper's `dataended` event). */
  ended: boolean
}

export interface SwarmTestApi {
  /** Connects to `wsUrl` with the helper, sends the fake camera and/or microphone. */
  publish: (wsUrl: string, options: PublishOptions) => Promise<PublishResult>
  /**
   * Connects with the helper (a new SwarmClient each call; `urls`: where it may move) and
   * consumes the producers, each MediaStream in its own media element. Resolves with the
   * consumer ids.
   */
  view: (urls: string | string[], producerIds: string[]) => Promise<string[]>
  /** Numbers of every track consumed by view() so far. */
  stats: () => Promise<TrackStats[]>
  /** Samples framesDecoded of every viewed video every `intervalMs` from now on. */
  startSampling: (intervalMs: number) => Promise<void>
  samples: () => Promise<FrameSample[]>
  /** Events of the viewers' SwarmClients so far. */
  clientEvents: () => Promise<ClientEventRecord[]>
  elements: (since: number) => Promise<ElementReport[]>
  /** Connects with the helper and opens a data channel (label); resolves with its data producer id once open. */
  publishData: (wsUrl: string, label: string) => Promise<string>
  /** Sends `count` messages `${prefix}${i}` on the page's data channel, in one go. */
  sendData: (prefix: string, count: number) => Promise<void>
  /** Connects with the helper and consumes a data producer; messages starting with `prefix` are counted (shown in the page). */
  consumeData: (wsUrl: string, dataProducerId: string, prefix: string) => Promise<string>
  dataReport: () => Promise<DataReport>
  /** Asks the node for these layers of a viewed simulcast or SVC producer (SwarmClient.setPreferredLayers()). */
  setPreferredLayers: (producerId: string, spatialLayer: number, temporalLayer?: number) => Promise<void>
}
