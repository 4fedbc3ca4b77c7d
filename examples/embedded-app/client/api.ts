// What the client page exposes as `window.app` (for the buttons, the console and tests).
// Types only, without the DOM library, so Node code (the test) can import them too.

/** inbound-rtp numbers of one viewed track. */
export interface TrackStats {
  producerId: string
  kind: 'audio' | 'video'
  packetsReceived: number
  /** Video only. */
  framesDecoded?: number
}

export interface ClientApp {
  /** Resolves with the producer ids once the camera and microphone are sent. */
  publish: (room: string) => Promise<string[]>
  /** Resolves once the producers the room had are consumed; new ones follow by themselves. */
  view: (room: string) => Promise<void>
  /** Numbers of every track being viewed. */
  stats: () => Promise<TrackStats[]>
}
