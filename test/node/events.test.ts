import assert from 'node:assert/strict'
import { format } from 'node:util'
import createDebug from 'debug'
import { SafeEmitter } from '../../src/node/events.js'

describe('SwarmNode events (SafeEmitter)', () => {
  it('a listener that throws does not break the emitter: the error is logged and re-emitted as listenererror', () => {
    const emitter = new SafeEmitter()
    const lines: string[] = []
    const log = createDebug.log
    createDebug.log = (...args: unknown[]) => { lines.push(format(...args)) }
    createDebug.enable('mediasoup-swarm:node:error')
    try {
      const seen: Array<[string, Error]> = []
      emitter.on('listenererror', (event, error) => seen.push([event, error]))
      emitter.on('distributionchange', () => { throw new Error('listener bug') })
      let after = false
      emitter.on('distributionchange', () => { after = true })
      assert.doesNotThrow(() => emitter.emit('distributionchange', 'p1'))
      assert.equal(seen.length, 1)
      assert.equal(seen[0]![0], 'distributionchange')
      assert.equal(seen[0]![1].message, 'listener bug')
      assert.ok(lines.some((l) => l.includes('a listener of distributionchange threw') && l.includes('listener bug')), lines.join('\n'))
      // Node's EventEmitter stops at the throwing listener; the ones after it miss this event.
      assert.equal(after, false)
    } finally {
      createDebug.log = log
      createDebug.disable()
    }
  })

  it("an 'error' nobody listens to does not throw (it was logged where it was reported)", () => {
    const emitter = new SafeEmitter()
    assert.equal(emitter.emit('error', new Error('background')), false)
  })
})
