// Where a producer's record goes and how a pull finds it: the two designs compared.

export interface LookupOutcome {
  found: boolean
  /** Query rounds until a provider was named (0 when the asker held a record itself). */
  hops: number
  /** The asker held a record itself: no message. */
  local: boolean
  /** The home fast path's first round named a provider. */
  fastHit: boolean
}

export interface DirectoryDesign {
  readonly name: string
  /**
   * `node` announces that it serves the producer of `keyRef` (an origin, or a node with a
   * copy); answers the nodes that now hold its record.
   */
  announce: (node: number, keyRef: number) => readonly number[]
  /** `node` looks for a provider of `keyRef` (a cold pull). */
  lookup: (node: number, keyRef: number) => LookupOutcome
}
