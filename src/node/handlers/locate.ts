// locate: who provides a producer, as this node's home records know (waiting a moment for
// an announcement that has not landed yet).
import { MAX_CANDIDATES } from '../../protocol/messages.js'
import type { Handler } from './index.js'
import type { HomeRecords } from '../../directory/home-records.js'

export interface LocateHandlerInit {
  records: HomeRecords
  /** Addresses this node knows for a peer (a requester may not know the provider yet). */
  multiaddrsOf: (peerId: string) => Promise<string[]>
}

export function locateHandler ({ records, multiaddrsOf }: LocateHandlerInit): Handler<'locate'> {
  return async ({ producerId, waitMs }, peerId) => {
    const found = (await records.providersWithin(producerId, waitMs)).filter((p) => p !== peerId).slice(0, MAX_CANDIDATES)
    const providers = await Promise.all(found.map(async (provider) => ({ peerId: provider, multiaddrs: (await multiaddrsOf(provider)).slice(0, 8) })))
    return { type: 'providers', producerId, providers }
  }
}
