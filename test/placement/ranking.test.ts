import assert from 'node:assert/strict'
import { rankCandidates } from '../../src/placement/ranking.js'
import type { RelayCandidate } from '../../src/placement/ranking.js'

const c = (peerId: string, spare: number, downstream: number, rttMs?: number): RelayCandidate =>
  ({ peerId, spare, capacity: 100, downstream, rttMs })
const rank = (cands: RelayCandidate[]): string[] => rankCandidates(cands, { cost: 4, fanout: 2 }).map((x) => x.peerId)

describe('relay ranking policy', () => {
  it('prefers the nearer of two equally loaded relays', () => {
    assert.deepEqual(rank([c('far', 50, 0, 30), c('near', 50, 0, 2)]), ['near', 'far'])
  })

  it('prefers the less loaded of two equally near relays', () => {
    assert.deepEqual(rank([c('busy', 10, 0, 5), c('idle', 90, 0, 5)]), ['idle', 'busy'])
  })

  it('trades RTT against load: 50 ms of RTT outweigh a fully loaded node by default', () => {
    assert.deepEqual(rank([c('near-busy', 5, 0, 1), c('far-idle', 100, 0, 80)]), ['near-busy', 'far-idle'])
    assert.deepEqual(rank([c('near-busy', 5, 0, 20), c('mid-idle', 100, 0, 30)]), ['mid-idle', 'near-busy'])
  })

  it('puts relays at their fan-out limit after those that can serve at once', () => {
    assert.deepEqual(rank([c('full-fanout', 90, 2, 1), c('open', 20, 1, 40)]), ['open', 'full-fanout'])
  })

  it('puts relays without capacity for one more pipe last', () => {
    assert.deepEqual(rank([c('no-room', 3, 0, 1), c('at-fanout', 50, 2, 50), c('ok', 50, 0, 60)]), ['ok', 'at-fanout', 'no-room'])
  })

  it('treats an unmeasured RTT as 100 ms', () => {
    assert.deepEqual(rank([c('unknown', 50, 0), c('measured', 50, 0, 99)]), ['measured', 'unknown'])
    assert.deepEqual(rank([c('unknown', 50, 0), c('measured', 50, 0, 101)]), ['unknown', 'measured'])
  })

  it('is deterministic for ties (by peer id) and does not modify its input', () => {
    const input = [c('b', 50, 0, 1), c('a', 50, 0, 1)]
    assert.deepEqual(rank(input), ['a', 'b'])
    assert.deepEqual(input.map((x) => x.peerId), ['b', 'a'])
  })
})
