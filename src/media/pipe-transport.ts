// A node's end of a cross-node pipe: a PipeTransport with SRTP and RTX, always, and an SCTP
// association for data producers (docs/security.md: SCTP on a pipe is not encrypted).
import { InvalidStateError } from '../errors.js'
import type { types as ms } from 'mediasoup'
import type { PipeEndpoint } from '../protocol/messages.js'

export interface PipeListen {
  ip: string
  /** IP other nodes send to (NAT, containers); mediasoup 3.13 takes an IP, not a name. */
  announcedIp: string
}

/** SCTP streams of a pipe, each way: one per data producer it carries (mediasoup's default). */
export const PIPE_SCTP_STREAMS = { OS: 1024, MIS: 1024 }

export async function createPipeTransport (router: ms.Router, listen: PipeListen): Promise<ms.PipeTransport> {
  return await router.createPipeTransport({
    listenInfo: { protocol: 'udp', ip: listen.ip, announcedIp: listen.announcedIp === listen.ip ? undefined : listen.announcedIp },
    enableSrtp: true,
    enableRtx: true,
    // Every pipe can carry data producers: a pipe is shared by all the producers of a
    // (peer, router) pair, and both ends of an association must enable it.
    enableSctp: true,
    numSctpStreams: PIPE_SCTP_STREAMS
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
