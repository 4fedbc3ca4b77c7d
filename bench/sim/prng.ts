// A small seeded PRNG (sfc32): the simulation must give the same numbers for the same
// seed, which Math.random() cannot.

export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = seed >>> 0
    // sfc32's first outputs still show the seed's bits.
    for (let i = 0; i < 16; i++) this.nextUint32()
  }

  nextUint32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next (): number {
    return this.nextUint32() / 4294967296
  }

  /** Uniform integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Exponentially distributed with this mean. */
  exponential (mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** Poisson distributed with this mean (Knuth's method: the means used here are small). */
  poisson (mean: number): number {
    const limit = Math.exp(-mean)
    let count = 0
    let product = this.next()
    while (product > limit) {
      count++
      product *= this.next()
    }
    return count
  }

  bytes (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) out[i] = this.nextUint32() & 0xff
    return out
  }

  /** Shuffles in place (Fisher–Yates). */
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const swap = items[i]!
      items[i] = items[j]!
      items[j] = swap
    }
    return items
  }
}
