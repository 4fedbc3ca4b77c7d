import assert from 'node:assert/strict'
import { byteStream } from '@libp2p/utils'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import type { SwarmNode } from '../../src/index.js'

/** Yamux frame types (spec): what a muxer sends, counted. */
const DATA = 0
const WINDOW_UPDATE = 1
const ECHO = '/mss-test/echo/1.0.0'

interface FrameHeader { type: number, flag: number, length: number }
interface CountableMuxer { sendFrame: (header: FrameHeader, data?: unknown) => boolean }

/** Counts the frames `node`'s Yamux sends to `to` from now on. */
function countFrames (node: SwarmNode, to: SwarmNode): { data: number, updates: number, updatedBytes: number } {
  const counts = { data: 0, updates: 0, updatedBytes: 0 }
  for (const connection of node.libp2p.getConnections(to.libp2p.peerId)) {
    const muxer = (connection as unknown as { muxer: CountableMuxer }).muxer
    const sendFrame = muxer.sendFrame.bind(muxer)
    muxer.sendFrame = (header, data) => {
      if (header.type === DATA) counts.data++
      // Flagged updates open or accept a stream: those always go.
      if (header.type === WINDOW_UPDATE && header.flag === 0) {
        counts.updates++
        counts.updatedBytes += header.length
      }
      return sendFrame(header, data)
    }
  }
  return counts
}

describe('Yamux window updates (src/p2p/yamux-window.ts)', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('100 requests and answers of the control plane send no window update (js-yamux alone sends one per frame)', async () => {
    nodes = await startChain(2)
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    const fromA = countFrames(a, b)
    const fromB = countFrames(b, a)
    for (let i = 0; i < 100; i++) {
      const answer = await request(a.libp2p, b.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'status' }, 3000)
      assert.equal(answer.type, 'status-ok')
    }
    assert.ok(fromA.data >= 100 && fromB.data >= 100, `the requests and answers went through the counted muxers (data frames ${fromA.data} / ${fromB.data})`)
    assert.equal(fromA.updates + fromB.updates, 0, `window updates: ${fromA.updates} from the requester, ${fromB.updates} from the answerer`)
  })

  it('a transfer of 16 windows still flows: room is granted once half a window is used', async () => {
    nodes = await startChain(2)
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    const total = 4 * 1024 * 1024
    await b.libp2p.handle(ECHO, async (stream) => {
      const bytes = byteStream(stream)
      for (let echoed = 0; echoed < total;) {
        const chunk = await bytes.read()
        if (chunk === null) break
        echoed += chunk.byteLength
        await bytes.write(chunk)
      }
    })
    const fromA = countFrames(a, b)
    const fromB = countFrames(b, a)
    const stream = await a.libp2p.dialProtocol(b.libp2p.peerId, ECHO)
    const bytes = byteStream(stream, { maxBufferSize: 2 * total })
    const chunk = new Uint8Array(16 * 1024).fill(7)
    const writing = (async () => { for (let sent = 0; sent < total; sent += chunk.byteLength) await bytes.write(chunk) })()
    const back = await bytes.read({ bytes: total, signal: AbortSignal.timeout(20_000) })
    await writing
    assert.equal(back.byteLength, total)
    assert.ok(back.subarray().every((x) => x === 7), 'the bytes came back as sent')
    // 256 KiB windows: the receiver of each direction granted room several times, in steps of at least half a window.
    assert.ok(fromB.updates >= 4 && fromA.updates >= 4, `window updates: ${fromB.updates} from the echoing side, ${fromA.updates} from the sender`)
    assert.ok(fromB.updatedBytes / fromB.updates >= 128 * 1024, `${fromB.updatedBytes} bytes granted in ${fromB.updates} updates`)
  })
})
