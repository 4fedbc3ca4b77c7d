// A node's end of a cross-node pipe: a PipeTransport with SRTP and RTX, always.
import { InvalidStateError } from '../errors.js'
import type { types as ms } from 'mediasoup'
import type { PipeEndpoint } from '../protocol/messages.js'

export interface PipeListen {
  ip: string
  /** IP other nodes send to (NAT, containers); mediasoup 3.13 takes an IP, not a name. */
  announcedIp: string
}

export async function createPipeTransport (router: ms.Router, listen: PipeListen): Promise<ms.PipeTransport> {
  return await router.createPipeTransport({
    listenInfo: { protocol: 'udp', ip: listen.ip, announcedIp: listen.announcedIp === listen.ip ? undefined : listen.announcedIp },
    enableSrtp: true,
    enableRtx: true,
    enableSctp: false
  })
}

/** What the other node needs to connect to this transport. */
export function endpointOf (transport: ms.PipeTransport): PipeEndpoint {
  const srtpParameters = transport.srtpParameters
  if (srtpParameters === undefined) throw new InvalidStateError(`pipe transport ${transport.id} has no SRTP parameters`)
  return {
    pipeId: transport.id,
    // mediasoup puts the announced IP, when set, in tuple.localIp.
    ip: transport.tuple.localIp,
    port: transport.tuple.localPort,
    srtpParameters
  }
}
