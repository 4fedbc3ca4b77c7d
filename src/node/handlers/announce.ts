// announce: the sender provides (or no longer provides) producers this node is a home of.
import type { Handler } from './index.js'
import type { HomeRecords } from '../../directory/home-records.js'

export function announceHandler (records: HomeRecords): Handler<'announce'> {
  // A peer can only announce itself: the records name the sender, whatever it claims.
  return ({ producerIds, withdrawn }, peerId) => {
    records.store(peerId, producerIds, withdrawn)
    return { type: 'ok' }
  }
}
