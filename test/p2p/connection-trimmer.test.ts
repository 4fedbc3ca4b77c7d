// Which connections the trimmer closes (src/p2p/connection-trimmer.ts): pure choice over a
// host's connections and its peers' tags; a fake host stands in for libp2p here, the
// multi-node behaviour is in test/swarm/connection-trim.test.ts.
import assert from 'node:assert/strict'
import { ConnectionTrimmer, GRACE_MS } from '../../src/p2p/connection-trimmer.js'
import { PIPE_PEER_TAG, RECORD_PEER_TAG } from '../../src/p2p/peer-tags.js'
import type { Libp2p } from '@libp2p/interface'

interface FakeConnection { peer: string, ageMs: number, streams: number, tags: Record<string, number> }

type OpenListener = (event: CustomEvent<{ remotePeer: { toString: () => string } }>) => void

function fakeHost (connections: FakeConnection[], closed: string[], listeners: OpenListener[] = []): Libp2p {
  const now = Date.now()
  const conns = connections.map((c) => ({
    remotePeer: { toString: () => c.peer },
    timeline: { open: now - c.ageMs },
    streams: Array.from({ length: c.streams }),
    close: async () => { closed.push(c.peer) },
    abort: () => {}
  }))
  return {
    getConnections: () => conns,
    peerStore: {
      get: async (peerId: { toString: () => string }) => {
        const c = connections.find((x) => x.peer === peerId.toString())!
        return { tags: new Map(Object.entries(c.tags).map(([name, value]) => [name, { value }])) }
      }
    },
    addEventListener: (_: string, listener: OpenListener) => { listeners.push(listener) },
    removeEventListener: () => {}
  } as unknown as Libp2p
}

describe('connection trimmer (choice of connections to close)', () => {
  const OLD = GRACE_MS + 1000

  it('closes the excess, lowest-valued first, then fewest streams, then oldest', async () => {
    const closed: string[] = []
    const host = fakeHost([
      { peer: 'valued', ageMs: OLD, streams: 0, tags: { 'kad-peer': 5 } },
      { peer: 'busy', ageMs: OLD, streams: 3, tags: {} },
      { peer: 'idle-old', ageMs: OLD + 5000, streams: 0, tags: {} },
      { peer: 'idle', ageMs: OLD, streams: 0, tags: {} },
      { peer: 'also-valued', ageMs: OLD, streams: 0, tags: { 'kad-peer': 9 } }
    ], closed)
    await new ConnectionTrimmer(host, 2).trim()
    assert.deepEqual(closed, ['idle-old', 'idle', 'busy'])
  })

  it('closes the peers this node exchanges home records with after the others, before the DHT\'s closest', async () => {
    const closed: string[] = []
    const host = fakeHost([
      { peer: 'home', ageMs: OLD, streams: 0, tags: { [RECORD_PEER_TAG]: 30 } },
      { peer: 'table', ageMs: OLD, streams: 0, tags: { 'kad-peer': 5 } },
      { peer: 'idle', ageMs: OLD, streams: 0, tags: {} },
      { peer: 'close', ageMs: OLD, streams: 0, tags: { 'kad-close': 50 } }
    ], closed)
    await new ConnectionTrimmer(host, 2).trim()
    assert.deepEqual(closed, ['idle', 'table'])
  })

  it('never closes a pipe peer, one the DHT keeps alive, or one younger than the grace period', async () => {
    const closed: string[] = []
    const host = fakeHost([
      { peer: 'pipe', ageMs: OLD, streams: 0, tags: { [PIPE_PEER_TAG]: 100 } },
      { peer: 'closest', ageMs: OLD, streams: 0, tags: { 'kad-close': 50, 'keep-alive-kad-dht': 1 } },
      { peer: 'newcomer', ageMs: 1000, streams: 0, tags: {} },
      { peer: 'ordinary', ageMs: OLD, streams: 0, tags: {} }
    ], closed)
    await new ConnectionTrimmer(host, 1).trim()
    assert.deepEqual(closed, ['ordinary'], 'only the ordinary old connection, although 3 are over the maximum')
  })

  it('closes nothing at or under the maximum', async () => {
    const closed: string[] = []
    await new ConnectionTrimmer(fakeHost([{ peer: 'a', ageMs: OLD, streams: 0, tags: {} }, { peer: 'b', ageMs: OLD, streams: 0, tags: {} }], closed), 2).trim()
    assert.deepEqual(closed, [])
  })

  it('keeps a peer that connects again soon after its trim (it wants the connection), and only that one', async () => {
    const closed: string[] = []
    const listeners: OpenListener[] = []
    const host = fakeHost([
      { peer: 'comes-back', ageMs: OLD + 2000, streams: 0, tags: {} },
      { peer: 'stays-away', ageMs: OLD + 1000, streams: 0, tags: {} },
      { peer: 'kept', ageMs: OLD, streams: 0, tags: { 'kad-close': 50, 'keep-alive-kad-dht': 1 } }
    ], closed, listeners)
    const trimmer = new ConnectionTrimmer(host, 2)
    trimmer.start()
    try {
      await trimmer.trim()
      assert.deepEqual(closed, ['comes-back'], 'the oldest of the two ordinary connections goes first')
      // It redials at once (its side of the DHT keeps this node alive); the fake host still lists it.
      const open = (peer: string): void => { for (const l of listeners) l(new CustomEvent('connection:open', { detail: { remotePeer: { toString: () => peer } } })) }
      open('comes-back')
      open('stays-away')
      await trimmer.trim()
      assert.deepEqual(closed, ['comes-back', 'stays-away'], 'the peer that came back is kept; the other (never trimmed before) is not protected by opening')
    } finally {
      trimmer.stop()
    }
  })
})
