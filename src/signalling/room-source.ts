// Where the client signalling learns the producers of a room (docs/client-signalling.md#rooms):
// a SwarmNode is one (node.watchRoom() follows the room on every node of the swarm); a small
// interface rather than a SwarmNode, so the signalling works with a test double too.
import type { RoomEvent, RoomWatch } from '../node/swarm-node.js'

export interface RoomSource {
  /**
   * Resolves with the room's producers, then calls `listener` with each change until the
   * watch's `stop()`. Rejects with an error named RoomLimitError when it watches too many
   * rooms (the client gets LimitExceeded).
   */
  watchRoom: (room: string, listener: (event: RoomEvent) => void) => Promise<RoomWatch>
}
