// recruit: a full node asks this one to pull a producer from it and relay it.
import type { Handler } from './index.js'
import type { RelayRecruits } from '../serving/relay-recruits.js'

export function recruitHandler (recruits: RelayRecruits): Handler<'recruit'> {
  return async ({ producerId, data }, peerId) => {
    await recruits.answer(peerId, producerId, data === true)
    return { type: 'ok' }
  }
}
