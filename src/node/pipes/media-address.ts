// Whether this node's pipe address can work with a peer: a loopback media IP only reaches
// nodes on the same host, and nothing in a pipe's set-up says so (the other node sends
// to it, or from it, and the packets go nowhere). Checked where it shows: when a peer
// connects from another host, and when a pipe has carried no byte for a while.
import { createLogger } from '../../logger.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:pipes')

/** 127.0.0.0/8, ::1 and their IPv4-mapped spellings. */
export function isLoopbackIp (ip: string): boolean {
  const v = ip.toLowerCase().replace(/^::ffff:/, '')
  return v.startsWith('127.') || v === '::1'
}

const FIX = 'set pipeListenIp / --media-ip to an address of this host the other nodes reach (or pipeAnnouncedIp / --media-announced-ip behind NAT)'

export class MediaAddressCheck {
  private warnedLoopback = false

  /** `listenIp` and `announcedIp`: this node's pipe addresses (announced: what peers send to). */
  constructor (private readonly listenIp: string, private readonly announcedIp: string) {}

  /**
   * A peer connected from `remoteIps`: once in the node's life, warns when this node's
   * media IP is loopback and the peer is on another host (it cannot exchange media with it).
   */
  peerConnected (peerId: string, remoteIps: string[]): void {
    if (this.warnedLoopback || !isLoopbackIp(this.announcedIp)) return
    const remote = remoteIps.find((ip) => !isLoopbackIp(ip))
    if (remote === undefined) return
    this.warnedLoopback = true
    log.warn('peer %s connected from %s, another host, but this node\'s media IP is %s, a loopback address: no pipe between them can carry media (pulls of this node are refused as forbidden, pipes from it receive nothing); %s',
      peerId, remote, this.announcedIp, FIX)
  }

  /** An incoming pipe from `peerId` has received no byte for `silentMs` while it should have. */
  noBytes (peerId: string, transport: ms.PipeTransport, silentMs: number): void {
    // The tuple's localIp is the announced one when there is one: the listen IP is ours.
    const tuple = transport.tuple
    const theirs = isLoopbackIp(tuple.remoteIp ?? '') ? `${tuple.remoteIp ?? ''}, a loopback address` : tuple.remoteIp ?? 'unknown'
    log.warn('the pipe from %s has received no byte in %d s: it sends to %s (this node\'s announced media IP; listening on %s:%d), from its own media IP %s. If either address is not one the other host reaches, %s',
      peerId, Math.round(silentMs / 1000), this.announcedIp, this.listenIp, tuple.localPort, theirs, FIX)
  }
}
