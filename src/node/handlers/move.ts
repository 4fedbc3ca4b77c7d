// move: our upstream drains; get the producer from another node, new path first.
import type { Handler } from './index.js'
import type { CopyRepair } from '../healing/copy-repair.js'

export function moveHandler (repair: CopyRepair): Handler<'move'> {
  return ({ producerId }, peerId) => {
    repair.move(peerId, producerId)
    return { type: 'ok' }
  }
}
