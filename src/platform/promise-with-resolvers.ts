// js-libp2p v3 calls Promise.withResolvers, which Node 20 lacks: installed here where it is
// missing (Node 22+ has its own). Not the es-shims package: its spec checks cost 4 µs a
// call against 0.02 µs, and libp2p makes one for nearly every stream read and write (3-4 %
// of a node's CPU at N = 50, docs/benchmarks.md section 6). Imported first by every entry
// point (library index, binary, benchmarks); tests load it through .mocharc.json.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    // As the built-in: a subclass of Promise makes its own kind (`this`).
    value: function withResolvers<T> (this: PromiseConstructor): PromiseWithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
