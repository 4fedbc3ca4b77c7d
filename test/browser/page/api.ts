// What the test page exposes as `window.swarmTest`, shared by the page script (browser)
// and the harness (node). Types only: no DOM here, so node code can import it.

export interface PublishOptions {
  audio: boolean
  video: boolean
}

/** Producer ids created by publish(), by kind (absent when that kind was not asked for). */
export interface PublishResult {
  audio?: string
  video?: string
  /** mediasoup-client handler picked for this browser, e.g. 'Chrome111'. */
  handlerName: string
}

/** inbound-rtp numbers of one consumed track (from consumer.getStats()). */
export interface TrackStats {
  consumerId: string
  producerId: string
  kind: 'audio' | 'video'
  /** The server closed the consumer (its producer went away). */
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

export interface SwarmTestApi {
  /** Connects to `wsUrl`, sends the fake camera and/or microphone. */
  publish: (wsUrl: string, options: PublishOptions) => Promise<PublishResult>
  /**
   * Connects to `wsUrl` (a new WebSocket each call) and consumes the producers: created
   * paused, resumed once the track is attached, then a key frame is requested.
   * Resolves with the consumer ids.
   */
  view: (wsUrl: string, producerIds: string[]) => Promise<string[]>
  /** Numbers of every track consumed by view() so far. */
  stats: () => Promise<TrackStats[]>
}
