// The app's signalling messages, shared by the server (server.ts) and the browser client
// (client/main.ts). Types only. One WebSocket per browser tab, JSON text frames:
//
//   client → server  { id, method, data }              a request
//   server → client  { id, ok: true, data }            its reply
//                    { id, ok: false, error }          …or its failure (a message)
//   server → client  { notification, data }            something happened in the room
//
// Requests, in the order a client sends them:
//   join             { room }                                   → { rtpCapabilities, producers }
//   createTransport  { direction: 'send' | 'recv' }             → { id, iceParameters, iceCandidates, dtlsParameters }
//   connectTransport { transportId, dtlsParameters }            → {}
//   produce          { transportId, kind, rtpParameters }       → { id }
//   consume          { transportId, producerId, rtpCapabilities } → { id, producerId, kind, rtpParameters }  (paused)
//   resume           { consumerId }                             → {}  (and a key frame for video)
//
// Notifications:
//   newProducer      { id, kind }        a producer joined the room (on this server or another)
//   producerClosed   { id }              it left the room
//   consumerClosed   { consumerId }      a consumer of this client ended (its producer closed)

export type Kind = 'audio' | 'video'

/** A producer of a room, as clients see it. */
export interface ProducerInfo {
  id: string
  kind: Kind
}

export interface Request {
  id: number
  method: string
  data: Record<string, unknown>
}

export type Reply =
  | { id: number, ok: true, data: unknown }
  | { id: number, ok: false, error: string }

export type Notification =
  | { notification: 'newProducer', data: ProducerInfo }
  | { notification: 'producerClosed', data: { id: string } }
  | { notification: 'consumerClosed', data: { consumerId: string } }

/** Body of GET /producers?room=<name>: the producers published to the room on this server. */
export interface RoomListing {
  producers: ProducerInfo[]
}
