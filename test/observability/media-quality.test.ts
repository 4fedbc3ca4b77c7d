// The pure parts of media quality: mediasoup stats entries to figures, figures combined,
// and the window of ping times a peer's RTT is the minimum of.
import assert from 'node:assert/strict'
import { combineFigures, roundTo, streamFigures } from '../../src/observability/media-quality.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { keepRecent, PeerMonitor, RTT_SAMPLES } from '../../src/p2p/peer-monitor.js'
import { waitFor } from '../harness/index.js'
import type { Host } from '../../src/p2p/host.js'
import type { RtpStreamStat } from '../../src/observability/media-quality.js'

const inbound = (fields: Partial<RtpStreamStat>): RtpStreamStat => ({ type: 'inbound-rtp', packetCount: 0, byteCount: 0, packetsLost: 0, nackCount: 0, pliCount: 0, firCount: 0, score: 10, bitrate: 0, jitter: 0, ...fields })

describe('media-quality figures (src/observability/media-quality.ts)', () => {
  it('a first sample: counts as given, mediasoup\'s bitrate and fraction lost, jitter in ms from the clock rate', () => {
    const { figures } = streamFigures([
      inbound({ packetCount: 900, byteCount: 90_000, packetsLost: 100, fractionLost: 64, nackCount: 7, pliCount: 2, firCount: 1, score: 8, bitrate: 64_000, jitter: 450, roundTripTime: 12.34 }),
      { type: 'outbound-rtp', packetCount: 5000, byteCount: 1e6, fractionLost: 255 }
    ], 'inbound-rtp', 90_000, 1000)
    assert.deepEqual(figures, {
      packets: 900, bytes: 90_000, packetsLost: 100, nacks: 7, plis: 2, firs: 1,
      bitrateBps: 64_000, packetLossFraction: 0.25, jitterMs: 5, rttMs: 12.34, score: 8, periodPackets: 900
    })
  })

  it('a later sample: bitrate over the time since the previous one; packets of the period weigh its loss', () => {
    const first = streamFigures([inbound({ packetCount: 100, byteCount: 10_000, packetsLost: 0, bitrate: 1 })], 'inbound-rtp', 48_000, 1000)
    const { figures } = streamFigures([inbound({ packetCount: 290, byteCount: 35_000, packetsLost: 10, fractionLost: 13, bitrate: 1 })], 'inbound-rtp', 48_000, 3000, first.sample)
    assert.equal(figures.bitrateBps, 25_000 * 8 / 2)
    assert.equal(figures.periodPackets, 190)
    assert.equal(figures.packetsLost, 10)
    assert.equal(figures.packetLossFraction, 13 / 256)
  })

  it('simulcast: streams summed, the worst score, jitter and RTT; counts never go down when a stream goes away', () => {
    const first = streamFigures([
      inbound({ packetCount: 100, byteCount: 1000, score: 9, jitter: 90, nackCount: 1 }),
      inbound({ packetCount: 300, byteCount: 3000, score: 4, jitter: 900, roundTripTime: 3, nackCount: 2 })
    ], 'inbound-rtp', 90_000, 0)
    assert.deepEqual([first.figures.packets, first.figures.bytes, first.figures.nacks, first.figures.score, first.figures.jitterMs, first.figures.rttMs], [400, 4000, 3, 4, 10, 3])
    const later = streamFigures([inbound({ packetCount: 150, byteCount: 1500, score: 10 })], 'inbound-rtp', 90_000, 1000, first.sample)
    assert.deepEqual([later.figures.packets, later.figures.bytes, later.figures.nacks, later.figures.bitrateBps], [400, 4000, 3, 0])
  })

  it('an outbound stream has no jitter; an absent RTT (no RTCP report yet) is null; negative inbound loss (duplicates) counts as 0', () => {
    const out = streamFigures([{ type: 'outbound-rtp', packetCount: 10, byteCount: 100, packetsLost: 0, score: 10 }], 'outbound-rtp', 48_000, 0)
    assert.equal(out.figures.jitterMs, null)
    assert.equal(out.figures.rttMs, null)
    const dup = streamFigures([inbound({ packetCount: 10, packetsLost: -2 })], 'inbound-rtp', 48_000, 0)
    assert.equal(dup.figures.packetsLost, 0)
  })

  it('no stream at all: zero counts, null jitter, RTT and score', () => {
    const { figures } = streamFigures([], 'inbound-rtp', 48_000, 0)
    assert.deepEqual([figures.packets, figures.bitrateBps, figures.packetLossFraction, figures.jitterMs, figures.rttMs, figures.score], [0, 0, 0, null, null, null])
  })

  it('figures combined: counts and bitrates summed, loss weighted by packets, the worst jitter, RTT and score', () => {
    const a = streamFigures([inbound({ packetCount: 100, byteCount: 900, packetsLost: 10, fractionLost: 128, score: 10, jitter: 48, roundTripTime: 2, bitrate: 100 })], 'inbound-rtp', 48_000, 0).figures
    const b = streamFigures([inbound({ packetCount: 300, byteCount: 1000, packetsLost: 0, score: 7, jitter: 480, bitrate: 50 })], 'inbound-rtp', 48_000, 0).figures
    const both = combineFigures([a, b])
    assert.deepEqual([both.packets, both.bytes, both.packetsLost, both.bitrateBps, both.score, both.jitterMs, both.rttMs], [400, 1900, 10, 150, 7, 10, 2])
    assert.equal(both.packetLossFraction, 0.5 * 100 / 400)
    assert.deepEqual([combineFigures([]).score, combineFigures([]).packetLossFraction], [null, 0])
  })

  it('rounding keeps null and gives tenths of a ms', () => {
    assert.equal(roundTo(78.20111154136248, 1), 78.2)
    assert.equal(roundTo(0.04, 1), 0)
    assert.equal(roundTo(null, 1), null)
  })
})

describe('peer RTT window (src/p2p/peer-monitor.ts)', () => {
  it(`keeps the last ${RTT_SAMPLES} ping times: a busy moment's long ping does not hide the network's, and old ones leave`, () => {
    const window: number[] = []
    for (const rtt of [275, 7.2, 180, 90, 60]) keepRecent(window, rtt)
    assert.equal(Math.min(...window), 7.2)
    for (const rtt of [9, 8.5, 30, 12, 11]) keepRecent(window, rtt)
    assert.deepEqual(window, [9, 8.5, 30, 12, 11])
    assert.equal(Math.min(...window), 8.5)
  })

  it('a monitor reports the lowest of the last 5 pings per peer, not a mean a busy moment drags up', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    // Ping times of a bridge whose event loops are busy now and then (issue 12: 7-275 ms);
    // then the peer answers no more (alive by other evidence), so no sample is added.
    const times = [275, 7.3, 180, 90, 60, 240, 8.1, 150]
    let pings = 0
    const host = {
      addEventListener: () => {},
      removeEventListener: () => {},
      getConnections: () => [{ status: 'open', remotePeer: peer }],
      services: {
        ping: {
          ping: async () => {
            if (pings < times.length) return times[pings++]!
            throw new Error('no answer')
          }
        }
      }
    } as unknown as Host
    const monitor = new PeerMonitor(host, { intervalMs: 10, failuresBeforeClose: 2, isAlive: () => true })
    monitor.start()
    try {
      // A timer's check: the answer of the last ping has been taken in before it.
      await waitFor(() => pings === times.length, { what: 'all pings' })
      // The window is now 90, 60, 240, 8.1, 150: 7.3 has left it. A smoothed mean would read about 130.
      assert.equal(monitor.rtts()[peer.toString()], 8.1)
    } finally {
      monitor.stop()
    }
  })
})
