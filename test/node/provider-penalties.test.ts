import assert from 'node:assert/strict'
import { ProviderPenalties } from '../../src/node/pulling/provider-penalties.js'

describe('ProviderPenalties', () => {
  let now = 0
  const clock = (): number => now
  beforeEach(() => { now = 0 })

  it('remembers a penalised peer until its penalty expires, and a repeat restarts it', () => {
    const penalties = new ProviderPenalties({ durationMs: 1000, now: clock })
    assert.equal(penalties.isPenalised('a'), false)
    assert.equal(penalties.penalise('a', 'garbage'), 1)
    now = 999
    assert.equal(penalties.isPenalised('a'), true)
    assert.equal(penalties.penalise('a', 'timeout'), 2)
    now = 1998
    assert.deepEqual([...penalties.penalised()], [['a', 'timeout']])
    now = 1999
    assert.equal(penalties.isPenalised('a'), false)
    assert.deepEqual([...penalties.penalised()], [])
    // A new penalty after the expiry starts from one again.
    assert.equal(penalties.penalise('a', 'not-found'), 1)
  })

  it('counts every penalty by reason, from zero', () => {
    const penalties = new ProviderPenalties({ now: clock })
    assert.deepEqual(penalties.reasonCounts, { garbage: 0, timeout: 0, 'not-found': 0, redirect: 0 })
    penalties.penalise('a', 'garbage')
    penalties.penalise('a', 'garbage')
    penalties.penalise('b', 'redirect')
    assert.deepEqual(penalties.reasonCounts, { garbage: 2, timeout: 0, 'not-found': 0, redirect: 1 })
  })

  it('keeps at most maxPeers, dropping the oldest penalty first', () => {
    const penalties = new ProviderPenalties({ maxPeers: 3, now: clock })
    for (const peer of ['a', 'b', 'c']) penalties.penalise(peer, 'garbage')
    // A repeat makes `a` the latest: `b` is now the oldest.
    penalties.penalise('a', 'timeout')
    penalties.penalise('d', 'garbage')
    assert.deepEqual([...penalties.penalised().keys()], ['c', 'a', 'd'])
    for (let i = 0; i < 10_000; i++) penalties.penalise(`p${i}`, 'not-found')
    assert.equal(penalties.penalised().size, 3)
  })
})
