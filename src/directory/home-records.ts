// The records a node keeps as a "home" of producers: the nodes whose DHT ids are closest
// to a producer's key hold who provides it, so that a lookup is one request to them instead
// of a DHT walk (docs/protocol.md, `announce` and `locate`). Its neighbours' records too:
// a node announces its producers to every node it is connected to, so that a requester
// connected to the origin needs no lookup at all. A peer can only announce itself; records
// expire unless announced again or their provider is still connected; everything is bounded
// so that no peer can fill a node's memory with records or its event loop with waiting lookups.

/** A provider's records and waiting lookups are bounded by these. */
export interface HomeLimits {
  /** Records one provider may have here. */
  recordsPerProvider: number
  /** Records in all. */
  records: number
  /** Lookups waiting for a record at once, in all. */
  waiting: number
}

export const DEFAULT_HOME_LIMITS: HomeLimits = { recordsPerProvider: 4096, records: 65_536, waiting: 1024 }

export class HomeRecords {
  /** producer id → provider peer id → expiry (ms, performance.now()). */
  private readonly records = new Map<string, Map<string, number>>()
  private readonly perProvider = new Map<string, number>()
  private size = 0
  private readonly waiters = new Map<string, Set<() => void>>()
  private waiting = 0
  private readonly sweeper: NodeJS.Timeout

  /**
   * `isConnected`: whether a provider is connected to this node now; its records then stay
   * live past their validity (it withdraws them over the connection, and neighbours are
   * not sent the re-announcements that homes get).
   */
  constructor (private readonly validityMs: number, private readonly limits: HomeLimits = DEFAULT_HOME_LIMITS,
    private readonly isConnected: (provider: string) => boolean = () => false) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, validityMs / 4))
    this.sweeper.unref()
  }

  /**
   * Stores that `provider` has `producerIds` (refreshing their validity) and no longer has
   * `withdrawn`. Records past a limit are dropped, not stored: returns how many were kept.
   */
  store (provider: string, producerIds: readonly string[], withdrawn: readonly string[] = []): number {
    for (const producerId of withdrawn) this.remove(producerId, provider)
    const expires = performance.now() + this.validityMs
    let kept = 0
    for (const producerId of producerIds) {
      let providers = this.records.get(producerId)
      if (providers?.has(provider) !== true) {
        if (this.size >= this.limits.records || (this.perProvider.get(provider) ?? 0) >= this.limits.recordsPerProvider) continue
        if (providers === undefined) this.records.set(producerId, providers = new Map())
        this.size++
        this.perProvider.set(provider, (this.perProvider.get(provider) ?? 0) + 1)
      }
      providers.set(provider, expires)
      kept++
      this.wake(producerId)
    }
    return kept
  }

  /** Live providers of `producerId`, the most recently announced first. */
  providers (producerId: string): string[] {
    const providers = this.records.get(producerId)
    if (providers === undefined) return []
    const now = performance.now()
    return [...providers].filter(([peerId, expires]) => expires > now || this.isConnected(peerId)).sort((a, b) => b[1] - a[1]).map(([peerId]) => peerId)
  }

  /**
   * The providers of `producerId`, waiting up to `waitMs` for a first one when there is
   * none yet (a lookup that arrives before the producer's announcement). When too many
   * lookups wait already, answers at once.
   */
  async providersWithin (producerId: string, waitMs: number, signal?: AbortSignal): Promise<string[]> {
    const now = this.providers(producerId)
    if (now.length > 0 || waitMs <= 0 || this.waiting >= this.limits.waiting || signal?.aborted === true) return now
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(producerId)
      if (set === undefined) this.waiters.set(producerId, set = new Set())
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        if (set.delete(done)) this.waiting--
        if (set.size === 0 && this.waiters.get(producerId) === set) this.waiters.delete(producerId)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      signal?.addEventListener('abort', done)
      set.add(done)
      this.waiting++
    })
    return this.providers(producerId)
  }

  /** Forgets every record of `provider` (it stopped, or withdrew everything). */
  removeProvider (provider: string): void {
    for (const producerId of [...this.records.keys()]) this.remove(producerId, provider)
  }

  counts (): { records: number, waiting: number } {
    return { records: this.size, waiting: this.waiting }
  }

  stop (): void {
    clearInterval(this.sweeper)
    for (const set of this.waiters.values()) for (const done of [...set]) done()
  }

  private remove (producerId: string, provider: string): void {
    const providers = this.records.get(producerId)
    if (providers?.delete(provider) !== true) return
    if (providers.size === 0) this.records.delete(producerId)
    this.size--
    const left = (this.perProvider.get(provider) ?? 1) - 1
    if (left === 0) this.perProvider.delete(provider)
    else this.perProvider.set(provider, left)
  }

  private wake (producerId: string): void {
    const set = this.waiters.get(producerId)
    if (set !== undefined) for (const done of [...set]) done()
  }

  private sweep (): void {
    const now = performance.now()
    const connected = new Map<string, boolean>()
    const live = (provider: string): boolean => {
      let is = connected.get(provider)
      if (is === undefined) connected.set(provider, is = this.isConnected(provider))
      return is
    }
    for (const [producerId, providers] of [...this.records]) {
      for (const [provider, expires] of [...providers]) if (expires <= now && !live(provider)) this.remove(producerId, provider)
    }
  }
}
