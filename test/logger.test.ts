import assert from 'node:assert/strict'
import { format } from 'node:util'
import createDebug from 'debug'
import { createLogger, namespacesFor } from '../src/logger.js'

describe('logger', () => {
  it('maps a log level onto DEBUG namespaces: that level and the more important ones', () => {
    assert.equal(namespacesFor('none'), '')
    assert.equal(namespacesFor('error'), 'mediasoup-swarm:*:error')
    assert.equal(namespacesFor('info'), 'mediasoup-swarm:*:error,mediasoup-swarm:*:warn,mediasoup-swarm:*:info')
    assert.equal(namespacesFor('debug'), 'mediasoup-swarm:*,-mediasoup-swarm:*:trace')
    assert.equal(namespacesFor('trace'), 'mediasoup-swarm:*')
  })

  it('one component logs each level under mediasoup-swarm:<component>[:<level>]', () => {
    const lines: string[] = []
    const log = createDebug.log
    createDebug.log = (...args: unknown[]) => { lines.push(format(...args)) }
    try {
      createDebug.enable(namespacesFor('info'))
      const logger = createLogger('test')
      logger.info('shown %d', 1)
      logger.debug('hidden at info')
      createDebug.enable(namespacesFor('trace'))
      logger.trace('shown %s', 'too')
      assert.equal(lines.length, 2, lines.join('\n'))
      assert.match(lines[0]!, /mediasoup-swarm:test:info shown 1/)
      assert.match(lines[1]!, /mediasoup-swarm:test:trace shown too/)
    } finally {
      createDebug.log = log
      createDebug.disable()
    }
  })
})
