// What a peer's connections prove about it: the IPs it really talks from. Media goes only
// to such an IP, so a peer cannot make this node send a stream to someone else's host.
import { peerIdFromString } from '@libp2p/peer-id'
import type { Host } from './host.js'

/** Remote IPs of the open connections with `peerId`. */
export function remoteIpsOf (host: Host, peerId: string): string[] {
  const ips = new Set<string>()
  for (const connection of host.getConnections(peerIdFromString(peerId))) {
    if (connection.status !== 'open') continue
    for (const c of connection.remoteAddr.getComponents()) {
      if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) ips.add(normalizeIp(c.value))
    }
  }
  return [...ips]
}

/** One spelling per address: IPv6 lower case, IPv4-mapped IPv6 as IPv4. */
export function normalizeIp (ip: string): string {
  const lower = ip.toLowerCase()
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower
}
