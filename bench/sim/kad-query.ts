// kad-dht v16's iterative query (dist/src/query/manager.js and query-path.js), in rounds:
// the K closest peers of the asker's table, shuffled, are dealt over `disjointPaths` paths;
// each path keeps a queue ordered by distance and asks up to `alpha` peers at a time. A
// peer is asked only while it could still enter the path's K closest answered peers; a
// peer named in an answer is queued only if no path has seen it, it is not the asker, and
// it is closer to the key than the peer that named it. The query ends when every queue is
// empty, or (lookups) in the round whose answer names a provider, or (the self-query) once
// `eventLimit` query events were seen.
//
// One round is one hop: the real queue starts the next request as soon as one answer is
// in, rounds are what it amounts to when every answer takes the same time. Requests of the
// round in which a query stops are counted in full (they are on the wire), except when it
// stops as they start (the self-query with a full table: 20 requests started, none
// answered, as measured on real nodes): those are counted as aborted streams.
import type { KadKey } from './kad-ids.js'
import type { SwarmModel } from './swarm-model.js'
import type { Prng } from './prng.js'

export interface QueryOptions {
  type: 'FIND_NODE' | 'GET_PROVIDERS'
  alpha: number
  disjointPaths: number
  /** Stop in the round in which an answer names a provider (findProviders read until one). */
  stopOnProvider: boolean
  /**
   * Stop once this many query events were produced (a request sent: 1, answered: 2 more),
   * as kad-dht's self-query does by taking its first K events. Infinity for other queries.
   */
  eventLimit: number
  /** Peers asked before the query starts (the fast path's homes), with their answers. */
  asked?: ReadonlyArray<{ peer: number, closer: readonly number[] }>
}

export interface QueryResult {
  rounds: number
  /** A provider was named (GET_PROVIDERS). */
  found: boolean
  /** The K closest peers that answered, over all paths (getClosestPeers' result). */
  closest: number[]
}

/** The K closest of the peers added, closest first (kad-dht's PeerDistanceList). */
class DistanceList {
  readonly peers: number[] = []

  constructor (private readonly model: SwarmModel, private readonly key: KadKey, private readonly capacity: number) {}

  canAdd (peer: number): boolean {
    return this.peers.length < this.capacity || this.model.ids.compare(peer, this.peers[this.peers.length - 1]!, this.key) < 0
  }

  add (peer: number): void {
    if (this.peers.includes(peer) || !this.canAdd(peer)) return
    insertByDistance(this.model, this.peers, peer, this.key)
    if (this.peers.length > this.capacity) this.peers.length = this.capacity
  }
}

function insertByDistance (model: SwarmModel, sorted: number[], peer: number, key: KadKey): void {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (model.ids.compare(sorted[mid]!, peer, key) <= 0) low = mid + 1
    else high = mid
  }
  sorted.splice(low, 0, peer)
}

interface Path {
  queue: number[]
  closest: DistanceList
}

/** A query from `asker` toward `key`; `keyRef` names the key's provider records (-1: none). */
export function runQuery (model: SwarmModel, prng: Prng, asker: number, key: KadKey, keyRef: number, options: QueryOptions): QueryResult {
  const k = model.routingTableInit.kBucketSize
  const seen = new Set<number>()
  const overall = new DistanceList(model, key, k)
  const asked = options.asked ?? []
  const askedPeers = new Set(asked.map((a) => a.peer))
  const start = prng.shuffle(model.tables[asker]!.closest(key, k).filter((p) => !askedPeers.has(p)))
  const pathCount = Math.max(1, Math.min(options.disjointPaths, start.length))
  const paths: Path[] = Array.from({ length: pathCount }, () => ({ queue: [], closest: new DistanceList(model, key, k) }))
  start.forEach((peer, i) => {
    seen.add(peer)
    insertByDistance(model, paths[i % pathCount]!.queue, peer, key)
  })
  for (const { peer } of asked) {
    seen.add(peer)
    paths[0]!.closest.add(peer)
    overall.add(peer)
  }
  for (const { peer, closer } of asked) queueCloser(model, seen, paths[0]!, asker, peer, closer, key)

  let rounds = 0
  let events = 0
  let found = false
  for (let stopped = false; !stopped;) {
    const batch: Array<[Path, number]> = []
    for (const path of paths) {
      for (let sent = 0; sent < options.alpha && path.queue.length > 0;) {
        const peer = path.queue.shift()!
        if (!path.closest.canAdd(peer)) continue
        batch.push([path, peer])
        sent++
      }
    }
    if (batch.length === 0) break
    rounds++
    model.nextInstant()
    events += batch.length
    if (events >= options.eventLimit) {
      // The caller stops reading before any answer: kad-dht aborts the requests as they start.
      for (let i = 0; i < batch.length; i++) model.abortRequest()
      break
    }
    for (const [path, peer] of batch) {
      const answer = model.request(asker, peer, options.type, keyRef, key)
      if (stopped) continue
      events += 2
      model.learnFromAnswer(asker, peer, answer)
      path.closest.add(peer)
      overall.add(peer)
      if (answer.providers.length > 0) found = true
      queueCloser(model, seen, path, asker, peer, answer.closer, key)
      stopped = events >= options.eventLimit || (found && options.stopOnProvider)
    }
  }
  return { rounds, found, closest: overall.peers }
}

/** Queues the peers `from` named that this path should ask next. */
function queueCloser (model: SwarmModel, seen: Set<number>, path: Path, asker: number, from: number, closer: readonly number[], key: KadKey): void {
  for (const peer of closer) {
    if (seen.has(peer) || peer === asker) continue
    if (model.ids.compare(peer, from, key) >= 0) continue
    if (!path.closest.canAdd(peer)) continue
    seen.add(peer)
    insertByDistance(model, path.queue, peer, key)
  }
}
