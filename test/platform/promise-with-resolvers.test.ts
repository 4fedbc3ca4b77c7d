import assert from 'node:assert/strict'
import '../../src/platform/promise-with-resolvers.js'

describe('Promise.withResolvers on Node 20', () => {
  it('resolves and rejects the promise it returns', async () => {
    const ok = Promise.withResolvers<number>()
    ok.resolve(7)
    assert.equal(await ok.promise, 7)
    const failed = Promise.withResolvers<number>()
    failed.reject(new Error('no'))
    await assert.rejects(failed.promise, /no/)
  })

  it('makes a promise of the subclass it is called on, as the built-in does', async () => {
    class Tagged<T> extends Promise<T> {}
    const { promise, resolve } = Promise.withResolvers.call(Tagged) as PromiseWithResolvers<string>
    assert.ok(promise instanceof Tagged)
    resolve('x')
    assert.equal(await promise, 'x')
  })
})
