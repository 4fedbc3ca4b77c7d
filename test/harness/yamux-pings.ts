// Yamux ping frames as a peer's Yamux sees them (the node's liveness pings,
// src/p2p/liveness-ping.ts): a test holds back or withholds the answers, as a busy or
// frozen process would, and counts what reached the peer.
import assert from 'node:assert/strict'
import type { SwarmNode } from '../../src/index.js'
import type { Connection } from '@libp2p/interface'

/** Yamux's SYN flag: set on a ping frame that asks for an answer (cleared on the answer). */
const YAMUX_SYN = 1

interface YamuxFrameHeader { flag: number }
interface PatchableMuxer { handlePing: (header: YamuxFrameHeader) => void }

/** Ping frames a patched Yamux saw, by number (from 0, in order of arrival). */
export interface PingsSeen {
  /** Those never answered. */
  unanswered: number[]
  /** Those answered late. */
  late: number[]
  /** Those answered at once. */
  answered: number[]
  /** Connections with the peer patched so far (those open at the call, then any opened later). */
  connections: number
}

/**
 * Makes the Yamux of `node`'s connections with `from` answer ping frame n after
 * `answerAfter(n)` ms, or never when it returns undefined, as a frozen process would.
 * Returns what it saw, so a test knows the pings really reached it.
 */
export function answerPings (node: SwarmNode, from: SwarmNode, answerAfter: (n: number) => number | undefined): PingsSeen {
  const seen: PingsSeen = { unanswered: [], late: [], answered: [], connections: 0 }
  let count = 0
  const patch = (connection: Connection): void => {
    seen.connections++
    const muxer = (connection as unknown as { muxer: PatchableMuxer }).muxer
    const handlePing = muxer.handlePing.bind(muxer)
    muxer.handlePing = (header) => {
      if ((header.flag & YAMUX_SYN) === 0) {
        handlePing(header)
        return
      }
      const n = count++
      const after = answerAfter(n)
      if (after === undefined) {
        seen.unanswered.push(n)
      } else if (after > 0) {
        seen.late.push(n)
        setTimeout(() => handlePing(header), after)
      } else {
        seen.answered.push(n)
        handlePing(header)
      }
    }
  }
  const connections = node.libp2p.getConnections(from.libp2p.peerId)
  assert.ok(connections.length > 0, 'connected')
  for (const connection of connections) patch(connection)
  // A connection opened later (a redial) answers as the first did: the test's frozen peer stays frozen.
  node.libp2p.addEventListener('connection:open', (event) => {
    if (event.detail.remotePeer.equals(from.libp2p.peerId)) patch(event.detail)
  })
  return seen
}
