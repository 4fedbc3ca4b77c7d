// When the peer monitor pings: each connected peer once a period, in a slot of the period
// its id gives, so that a period's pings are spread over it and not one burst.
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerMonitor, PING_SLOTS, pingSlot } from '../../src/p2p/peer-monitor.js'
import { waitFor } from '../harness/index.js'
import type { Host } from '../../src/p2p/host.js'
import type { PeerId } from '@libp2p/interface'

const PERIOD_MS = 400

describe('peer monitor ping slots (src/p2p/peer-monitor.ts)', () => {
  it('gives a peer the same slot every time, and spreads peer ids over all the slots', async () => {
    const counts = new Array<number>(PING_SLOTS).fill(0)
    for (let i = 0; i < 500; i++) {
      const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      assert.equal(pingSlot(peerId), pingSlot(peerId))
      counts[pingSlot(peerId)]!++
    }
    // 50 expected per slot; a slot with under 20 or over 90 would make bursts again.
    for (const [slot, count] of counts.entries()) assert.ok(count >= 20 && count <= 90, `slot ${slot}: ${count} of 500 peers`)
  })

  it('pings each connected peer once a period, the peers at different moments of it', async () => {
    const peers: PeerId[] = []
    for (let i = 0; i < 30; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
    const pings: Array<{ peer: string, at: number }> = []
    const host = {
      addEventListener: () => {},
      removeEventListener: () => {},
      getConnections: (peer?: PeerId) => peers.filter((p) => peer === undefined || p.equals(peer)).map((p) => ({ status: 'open', remotePeer: p })),
      services: { ping: { ping: async (peer: PeerId) => { pings.push({ peer: peer.toString(), at: performance.now() }); return 1 } } }
    } as unknown as Host
    const monitor = new PeerMonitor(host, { intervalMs: PERIOD_MS, failuresBeforeClose: 2 })
    const t0 = performance.now()
    monitor.start()
    try {
      await waitFor(() => performance.now() - t0 > 2.5 * PERIOD_MS, { what: 'two and a half periods' })
    } finally {
      monitor.stop()
    }
    const perPeer = new Map<string, number[]>()
    for (const { peer, at } of pings) perPeer.set(peer, [...(perPeer.get(peer) ?? []), at])
    assert.equal(perPeer.size, peers.length, 'every peer was pinged')
    for (const [peer, times] of perPeer) {
      assert.ok(times.length >= 2 && times.length <= 3, `${peer}: ${times.length} pings in 2.5 periods`)
      for (let i = 1; i < times.length; i++) {
        const gap = times[i]! - times[i - 1]!
        assert.ok(gap > PERIOD_MS * 0.6 && gap < PERIOD_MS * 1.6, `${peer}: pings ${gap.toFixed(0)} ms apart`)
      }
    }
    // The first period's pings fell into several of its slots, not one.
    const slotsUsed = new Set(pings.filter((p) => p.at - t0 < PERIOD_MS).map((p) => Math.floor((p.at - t0) / (PERIOD_MS / PING_SLOTS))))
    assert.ok(slotsUsed.size >= PING_SLOTS / 2, `the first period's pings fell into ${slotsUsed.size} of ${PING_SLOTS} slots`)
  })
})
