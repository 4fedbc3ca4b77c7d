// What a client token's grants allow (docs/client-signalling.md#tokens): which methods, and
// with a room grant, which producers. A producer's room is its `appData.room`, which travels
// with it to every node that pulls it (pull-ok carries appData), so the node serving a
// client checks the room of a copy as of a local producer.
import type { types as ms } from 'mediasoup'
import { SignallingError } from './messages.js'
import type { ClientMethod, ClientRequest, TransportDirection } from './messages.js'
import type { ClientAction, ClientGrants } from './token.js'

/** The appData key holding a producer's room. */
export const ROOM_KEY = 'room'

/** What a method needs from the token; `createWebRtcTransport` depends on its direction. */
const METHOD_ACTION: { [M in ClientMethod]: ClientAction | null } = {
  getRouterRtpCapabilities: null,
  createWebRtcTransport: null,
  connectWebRtcTransport: null,
  listProducers: null,
  produce: 'publish',
  pauseProducer: 'publish',
  resumeProducer: 'publish',
  closeProducer: 'publish',
  consume: 'consume',
  pauseConsumer: 'consume',
  resumeConsumer: 'consume',
  closeConsumer: 'consume',
  requestKeyFrame: 'consume',
  produceData: 'publish',
  closeDataProducer: 'publish',
  consumeData: 'consume',
  closeDataConsumer: 'consume',
  setConsumerPreferredLayers: 'consume',
  setConsumerPriority: 'consume'
}

const DIRECTION_ACTION: Record<TransportDirection, ClientAction> = { send: 'publish', recv: 'consume' }

/** @throws SignallingError Forbidden when the grants do not allow the request's action */
export function authorize (grants: ClientGrants, request: ClientRequest): void {
  const action = request.method === 'createWebRtcTransport' ? DIRECTION_ACTION[request.data.direction] : METHOD_ACTION[request.method]
  if (action !== null && grants[action] !== true) {
    throw new SignallingError('Forbidden', `the token does not allow ${action} (${request.method})`)
  }
}

/** The room of a producer (its `appData.room` when a string), undefined for none. */
export function roomOf (producer: Pick<ms.Producer, 'appData'>): string | undefined {
  const room = producer.appData[ROOM_KEY]
  return typeof room === 'string' ? room : undefined
}

/**
 * The appData a client's new producer gets: with a room grant, the room is set to it
 * (a different `room` of the client's is Forbidden); without one, the client's own.
 */
export function publishedAppData (grants: ClientGrants | undefined, appData: Record<string, unknown>): Record<string, unknown> {
  const room = grants?.room
  if (room === undefined) return appData
  if (appData[ROOM_KEY] !== undefined && appData[ROOM_KEY] !== room) {
    throw new SignallingError('Forbidden', `the token allows publishing in room ${JSON.stringify(room)} only`)
  }
  return { ...appData, [ROOM_KEY]: room }
}

/**
 * @throws SignallingError Forbidden when the grants name a room and `producer` (undefined:
 * not known to the signalling) is not in it
 */
export function checkRoom (grants: ClientGrants | undefined, producerId: string, producer: Pick<ms.Producer, 'appData'> | undefined): void {
  const room = grants?.room
  if (room === undefined) return
  if (producer === undefined) throw new SignallingError('Forbidden', `the room of producer ${producerId} is not known here; the token allows room ${JSON.stringify(room)} only`)
  if (roomOf(producer) !== room) throw new SignallingError('Forbidden', `producer ${producerId} is not in room ${JSON.stringify(room)}, the only one the token allows`)
}

/** @throws SignallingError Forbidden when the grants name a room other than `room` */
export function checkListedRoom (grants: ClientGrants | undefined, room: string): void {
  if (grants?.room !== undefined && grants.room !== room) {
    throw new SignallingError('Forbidden', `the token allows room ${JSON.stringify(grants.room)} only`)
  }
}
