// room-producers: which producers created on this node are in a room (docs/protocol.md#rooms).
import type { Handler } from './index.js'
import type { Rooms } from '../rooms/rooms.js'

export function roomProducersHandler (rooms: Rooms): Handler<'room-producers'> {
  return ({ room }) => ({ type: 'room-producers-ok', room, producers: rooms.localProducers(room) })
}
