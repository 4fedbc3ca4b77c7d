// How often the upstream watch reads a pipe's stats: an incoming pipe whose copies expect
// media but that never received a byte (a source that has not sent yet) is read once per
// silence period, and reported once; a pipe whose media flows is read at every check.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { UpstreamWatch } from '../../src/node/healing/upstream-watch.js'
import type { IncomingPipe } from '../../src/node/pipes/incoming-pipes.js'

const SILENCE_MS = 200
const RUN_MS = 2000

/** An incoming pipe with one unpaused audio copy whose transport stats say `bytes()` so far. */
function pipeReceiving (peerId: string, bytes: () => number): { pipe: IncomingPipe, reads: () => number } {
  let reads = 0
  const pipe = {
    peerId,
    closing: false,
    copies: new Map([['p1', { producer: { kind: 'audio', paused: false } }]]),
    transport: {
      closed: false,
      id: `transport-${peerId}`,
      getStats: async () => {
        reads++
        const b = bytes()
        return [{ bytesReceived: b, rtpBytesReceived: b }]
      }
    }
  } as unknown as IncomingPipe
  return { pipe, reads: () => reads }
}

describe('upstream watch stats reads (src/node/healing/upstream-watch.ts)', () => {
  it('reads a pipe that never received a byte once per silence period, and reports it once', async () => {
    const silent = pipeReceiving('silent', () => 0)
    let flowing = 0
    const media = pipeReceiving('media', () => (flowing += 1000))
    const reported: string[] = []
    const watch = new UpstreamWatch({
      pipes: () => [silent.pipe, media.pipe],
      ping: async () => true,
      giveUp: () => assert.fail('no upstream is given up here'),
      silenceMs: SILENCE_MS,
      pingTimeoutMs: 100,
      quietMaxMs: 1000,
      noBytesWarningMs: 500,
      onNoBytes: (pipe) => reported.push(pipe.peerId)
    })
    watch.start()
    await sleep(RUN_MS)
    watch.stop()
    const periods = RUN_MS / SILENCE_MS
    // Four checks per period: the flowing pipe is read at each (the path that must stay fast).
    assert.ok(media.reads() >= 2 * periods, `the pipe carrying media was read ${media.reads()} times in ${periods} periods`)
    assert.ok(silent.reads() >= periods / 2 && silent.reads() <= periods + 2, `the silent pipe was read ${silent.reads()} times in ${periods} periods (once each expected)`)
    assert.deepEqual(reported, ['silent'])
  })
})
