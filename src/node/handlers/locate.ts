// locate: who provides a producer, as this node's home records know (waiting a moment for
// an announcement that has not landed yet), and the nodes it knows closer to its key.
import { MAX_CANDIDATES } from '../../protocol/messages.js'
import type { Handler } from './index.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'

export function locateHandler (directory: ProducerDirectory): Handler<'locate'> {
  return async ({ producerId, waitMs }, peerId) => {
    // Only a home waits for an announcement to land: a node that knows closer ones answers
    // at once and names them (a requester that just joined asks nodes far from the key).
    const wait = await directory.isHomeOf(producerId) ? waitMs : 0
    const found = (await directory.homeRecords.providersWithin(producerId, wait)).filter((p) => p !== peerId).slice(0, MAX_CANDIDATES)
    // With the addresses this node knows: a requester may not know the provider yet.
    const providers = await Promise.all(found.map(async (provider) => ({ peerId: provider, multiaddrs: await directory.addressesOf(provider) })))
    // Closer nodes only matter when this one has nothing: a requester then asks them.
    const closer = providers.length > 0 ? [] : await directory.closerPeers(producerId, [peerId])
    return { type: 'providers', producerId, providers, closer }
  }
}
