// Where a producer's record goes and how a pull finds it: the designs compared.

/** How a lookup that found a provider found it. */
export type FoundBy = 'local' | 'round 1' | 'round 2+' | 'dht'

export interface LookupOutcome {
  found: boolean
  /** Query rounds until a provider was named (0 when the asker held a record itself). */
  hops: number
  /** Where the provider came from (undefined when none was found). */
  by?: FoundBy
}

export interface DirectoryDesign {
  readonly name: string
  /**
   * `node` announces that it serves the producer of `keyRef` (an origin, or a node with a
   * copy); answers the nodes that now hold its record.
   */
  announce: (node: number, keyRef: number) => readonly number[]
  /** What an origin does besides (the homes designs: its DHT record, in the background). */
  announceOriginal?: (node: number, keyRef: number) => void
  /** `node` no longer serves the producer (messages only where the design sends some). */
  withdraw?: (node: number, keyRef: number) => void
  /** `node` looks for a provider of `keyRef` (a cold pull). */
  lookup: (node: number, keyRef: number) => LookupOutcome
}
