// locate: who provides a producer, as this node's home records know (waiting a moment for
// an announcement that has not landed yet), and the nodes it knows closer to its key.
import { MAX_CANDIDATES } from '../../protocol/messages.js'
import type { Handler } from './index.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'

export interface LocateHandlerInit {
  directory: ProducerDirectory
  /** Addresses this node knows for a peer (a requester may not know the provider yet). */
  multiaddrsOf: (peerId: string) => Promise<string[]>
}

export function locateHandler ({ directory, multiaddrsOf }: LocateHandlerInit): Handler<'locate'> {
  return async ({ producerId, waitMs }, peerId) => {
    const found = (await directory.homeRecords.providersWithin(producerId, waitMs)).filter((p) => p !== peerId).slice(0, MAX_CANDIDATES)
    const providers = await Promise.all(found.map(async (provider) => ({ peerId: provider, multiaddrs: (await multiaddrsOf(provider)).slice(0, 8) })))
    // Closer nodes only matter when this one has nothing: a requester then asks them.
    const closer = providers.length > 0 ? [] : await directory.closerPeers(producerId, [peerId])
    return { type: 'providers', producerId, providers, closer }
  }
}
