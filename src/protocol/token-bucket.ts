// A token bucket: `burst` tokens at most, refilled at `perSecond`. Computed when asked
// (no timer), so a bucket per peer costs nothing while the peer is quiet.

export class TokenBucket {
  private tokens: number
  private at: number

  constructor (private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = burst
    this.at = now()
  }

  private refill (): void {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) * this.perSecond / 1000)
    this.at = now
  }

  /** Takes `n` tokens if there are that many; false (nothing taken) otherwise. */
  take (n = 1): boolean {
    this.refill()
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** Takes `n` tokens whatever is left: the bucket may go below zero (a penalty). */
  charge (n: number): void {
    this.refill()
    this.tokens = Math.max(-this.burst, this.tokens - n)
  }

  /** Milliseconds until one token is there (0 when there is one now). */
  msUntilToken (): number {
    this.refill()
    return this.tokens >= 1 ? 0 : (1 - this.tokens) * 1000 / this.perSecond
  }

  /** True when the bucket is full: it may be forgotten and made anew. */
  get full (): boolean {
    this.refill()
    return this.tokens >= this.burst
  }
}
