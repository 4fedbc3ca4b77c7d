import assert from 'node:assert/strict'
import { HomeRecords } from '../../src/directory/home-records.js'

describe('home records (what a home keeps of who provides what)', () => {
  const stores: HomeRecords[] = []
  const home = (validityMs = 60_000, limits = { recordsPerProvider: 4, records: 6, waiting: 2 }): HomeRecords => {
    const records = new HomeRecords(validityMs, limits)
    stores.push(records)
    return records
  }
  afterEach(() => { for (const s of stores.splice(0)) s.stop() })

  it('keeps providers per producer, the most recently announced first, and withdraws them', async () => {
    const records = home()
    records.store('A', ['p1', 'p2'])
    await new Promise((resolve) => setTimeout(resolve, 5))
    records.store('B', ['p1'])
    assert.deepEqual(records.providers('p1'), ['B', 'A'])
    assert.deepEqual(records.providers('p2'), ['A'])
    records.store('B', [], ['p1'])
    assert.deepEqual(records.providers('p1'), ['A'])
    assert.deepEqual(records.providers('unknown'), [])
    assert.deepEqual(records.counts(), { records: 2, waiting: 0 })
  })

  it('drops records past the limits (per provider and in all), and counts only what it kept', () => {
    const records = home()
    assert.equal(records.store('A', ['1', '2', '3', '4', '5']), 4)
    assert.equal(records.store('B', ['1', '2', '3']), 2)
    assert.equal(records.counts().records, 6)
    // Announcing a record again refreshes it, within the limits.
    assert.equal(records.store('A', ['1']), 1)
    records.removeProvider('A')
    assert.equal(records.counts().records, 2)
    assert.equal(records.store('C', ['9']), 1)
  })

  it('records expire after the validity unless announced again', async () => {
    const records = home(100)
    records.store('A', ['p1'])
    records.store('B', ['p1'])
    await new Promise((resolve) => setTimeout(resolve, 60))
    records.store('B', ['p1'])
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.deepEqual(records.providers('p1'), ['B'])
  })

  it('a connected provider\'s records outlive the validity, also through a sweep; once it is gone they expire', async () => {
    const connected = new Set(['A'])
    const records = new HomeRecords(50, undefined, (provider) => connected.has(provider))
    stores.push(records)
    records.store('A', ['p1'])
    records.store('B', ['p1'])
    // Past the validity and a sweep (every 1 s at the least).
    await new Promise((resolve) => setTimeout(resolve, 1100))
    assert.deepEqual(records.providers('p1'), ['A'])
    assert.equal(records.counts().records, 1, 'the sweep kept the connected provider\'s record only')
    connected.delete('A')
    assert.deepEqual(records.providers('p1'), [])
  })

  it('holds a lookup until a record lands, up to its wait; past the waiting limit it answers at once', async () => {
    const records = home()
    const t0 = performance.now()
    const waiting = records.providersWithin('p1', 2000)
    setTimeout(() => records.store('A', ['p1']), 50)
    assert.deepEqual(await waiting, ['A'])
    assert.ok(performance.now() - t0 < 1000)

    const empty = await records.providersWithin('p2', 80)
    assert.deepEqual(empty, [])
    const held = [records.providersWithin('p3', 5000), records.providersWithin('p3', 5000)]
    assert.equal(records.counts().waiting, 2)
    const t1 = performance.now()
    assert.deepEqual(await records.providersWithin('p3', 5000), [])
    assert.ok(performance.now() - t1 < 100, 'a lookup over the limit waited')
    records.store('B', ['p3'])
    assert.deepEqual(await Promise.all(held), [['B'], ['B']])
    assert.equal(records.counts().waiting, 0)
  })

  it('stop() answers every waiting lookup', async () => {
    const records = home()
    const waiting = records.providersWithin('p1', 10_000)
    records.stop()
    assert.deepEqual(await waiting, [])
  })
})
