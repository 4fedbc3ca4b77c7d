// Where producers live. Two layers, both keyed by the producer id's DHT key:
// - homes: the HOMES nodes closest to the key that this node knows of hold a record of
//   each provider (home-records.ts), and so do the nodes it is connected to among the
//   LOOKUP_HOMES closest (no dial for those: a requester that is connected to none of the
//   HOMES is often connected to one of them). An original's record also goes to every node
//   the provider is connected to (a neighbour record, live while the connection is): a
//   requester connected to the origin finds it in its own records, no lookup at all.
//   Announcing is one message to each; a lookup asks the connected among the LOOKUP_HOMES
//   closest at once, one round trip (each may forward it once to the holders it is
//   connected to), and a home that has no record yet holds the lookup until the
//   announcement lands (a producer watched as soon as it is made).
// - the DHT (kad-dht provider records), for originals that lived `timeouts.dhtProvideDelay`
//   (5 min), in the background: a durable second copy, what a lookup falls back on when the
//   homes it knows do not have the record (all gone, or views still converging).
// Plus a cache of the last node that served each producer (warm lookups skip both). Home
// records are withdrawn when a producer closes; DHT records expire after the provider
// validity, and requesters skip a provider that answers not-found.
import { createHash } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { compare } from 'uint8arrays/compare'
import { fromString } from 'uint8arrays/from-string'
import { xor } from 'uint8arrays/xor'
import { createLogger, describeError } from '../logger.js'
import { HomeRecords } from './home-records.js'
import { recordPeerTags } from '../p2p/peer-tags.js'
import type { PeerTags } from '../p2p/peer-tags.js'
import type { Host } from '../p2p/host.js'
import type { PeerId } from '@libp2p/interface'

const log = createLogger('directory')

/**
 * The directory id of a room: its home records are kept under it like a producer's, one
 * record per node that has producers created in the room (docs/protocol.md#rooms). A hash,
 * so that any room name makes a valid id, and "room." keeps it apart from mediasoup's UUIDs.
 */
export function roomDirectoryId (room: string): string {
  return `room.${createHash('sha256').update(`mediasoup-swarm/room/${room}`).digest('hex')}`
}

export async function producerKey (producerId: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(fromString(`mediasoup-swarm/producer/${producerId}`)))
}

/** The DHT id of a key or a peer: kad-dht's own (sha256 of the key's or the peer id's multihash). */
async function kadId (bytes: Uint8Array): Promise<Uint8Array> {
  return (await sha256.digest(bytes)).digest
}

/** Nodes that hold the home records of a producer (dialled by its origin if need be). */
export const HOMES = 3
/**
 * Nodes a lookup asks: more than the homes, so that a requester whose view of the swarm
 * differs from the announcer's (routing tables still filling) still reaches one of them.
 * The connected ones among them get the records too.
 */
export const LOOKUP_HOMES = 2 * HOMES
/**
 * Peers once connected count among the nodes whose distance to a key is known for this
 * long after they were last seen (kad-dht's routing table keeps at most 20 per distance:
 * a requester missing a home from it asked the wrong nodes and needed a second round of
 * dials); at most MAX_SEEN_PEERS of them, the most recently seen.
 */
const SEEN_PEER_TTL_MS = 10 * 60_000
const MAX_SEEN_PEERS = 1024
/**
 * Rounds of `locate` a lookup makes at most before the DHT: the closest it knows, then the
 * closer nodes they name, and so on (each round one round trip to up to LOOKUP_HOMES nodes).
 */
export const LOOKUP_ROUNDS = 4
/**
 * A lookup asks the homes it is connected to first, and the unconnected among the HOMES
 * closest (each a new connection: a handshake, identify, and later a trim) only when those
 * named no provider: at once when they have all answered, or after this long.
 */
export const LOCATE_HEDGE_MS = 100
/** How long a home holds a lookup for a record that has not arrived yet. */
export const LOCATE_WAIT_MS = 1000
/** Producer ids in one `announce` message at most. */
export const MAX_ANNOUNCED = 256
/**
 * Originals handed to a node that connects and is not one of their homes: the most recent
 * this many (one message; the homes still hold every record).
 */
export const MAX_NEIGHBOUR_RECORDS = MAX_ANNOUNCED
/**
 * Neighbour records (and their withdrawals) made within this long go out together, one
 * message per connected node: 50 nodes closing 400 producers at once were 12 800
 * messages one by one.
 */
export const NEIGHBOUR_BATCH_MS = 20
/** Rounds of an announcement at most: its homes, the closer nodes they name, stand-ins for homes that did not answer. */
const ANNOUNCE_WAVES = 3
/** DHT walks of announcements under way at once. */
const DHT_WALKS = 2

/** Retry delays for DHT records no peer has stored yet: from the first to the last, doubling. */
const RETRY_FIRST_MS = 250
const RETRY_LAST_MS = 120_000
/**
 * A joining peer restarts the retries at once only if fewer peers than this were connected
 * when a walk last stored nothing (a node alone, or nearly): in a swarm, where a walk fails
 * for lack of time, not of peers, restarting on every new connection fed a loop at N = 50
 * (walks → dials → connections → more walks) that kept both cores busy.
 */
const FEW_PEERS = 3

/**
 * What a record offers, which decides where it goes:
 * - `original`: a producer created here: its HOMES (dialled), the connected among the
 *   LOOKUP_HOMES closest, the closer nodes they name (waves), every connected node (neighbour
 *   records), and the DHT;
 * - `room`: this node's record in a room's directory: the connected among its LOOKUP_HOMES,
 *   with waves over connected nodes;
 * - `copy`: a producer received from another node (an offer to relay): the connected among
 *   its HOMES, once, without waves. A requester that misses it is sent on by the origin; the
 *   wider announcement was most of the 7 `announce` requests each pull cost the swarm at
 *   N = 50, 4.3 without it (docs/benchmarks.md, section 6).
 */
export type RecordKind = 'original' | 'room' | 'copy'

/** To whom records go: a home (answered with closer nodes), a home again, or a neighbour. */
export type AnnounceAs = 'home' | 'refresh' | 'neighbour'

/** A provider as a home reports it: its peer id and the addresses the home knows for it. */
export interface ProviderInfo { peerId: string, multiaddrs: string[] }

/**
 * How the directory talks to other nodes (the node's wire protocol). Both answers carry
 * the nodes the receiver knows closer to the (first) producer's key: views of the swarm
 * differ while routing tables fill, and one more round then reaches the real homes.
 */
export interface DirectoryMessenger {
  /**
   * `neighbour`: to a node this one is connected to, not as a home; `refresh`: to a home,
   * records it may hold already (re-announcements, a hand-off to a peer that connects). Both
   * are answered without closer nodes.
   */
  announce: (peerId: string, producerIds: string[], withdrawn: string[], as: AnnounceAs) => Promise<{ closer: ProviderInfo[] }>
  /** `forward`: the receiver may ask the holders it is connected to on the sender's behalf. */
  locate: (peerId: string, producerId: string, waitMs: number, forward: boolean) => Promise<{ providers: ProviderInfo[], closer: ProviderInfo[] }>
}

export interface ProducerDirectoryInit {
  host: Host
  messenger: DirectoryMessenger
  announceTimeoutMs: number
  /** An original is put in the DHT this long (+ up to a fifth at random) after its announcement to its homes. */
  dhtProvideDelayMs: number
  /** Home records live this long unless announced again. */
  providerValidityMs: number
  onError: (err: Error) => void
}

/** kad-dht's routing table (16.4.5; `kb` is set once it started): walks its peers with their DHT ids, unsorted. */
interface RoutingTableView { routingTable?: { kb?: { toIterable: () => Iterable<{ peerId: PeerId, kadId: Uint8Array }> } } }

/** The nodes homes are chosen among at one moment (homesOf()), with their DHT ids. */
type HomeCandidates = Map<string, Uint8Array>

export class ProducerDirectory {
  /** Announced producers (and rooms), by what their records offer. */
  private readonly announced = new Map<string, RecordKind>()
  /** Originals announced, but no other node has stored their DHT record yet (no peers, or none answered). */
  private readonly unstored = new Set<string>()
  private readonly locations = new Map<string, string>()
  /** The records this node keeps as a home. */
  readonly homeRecords: HomeRecords
  private readonly kadIds = new Map<string, Uint8Array>()
  /** Peers seen connected (identified, or disconnecting), and when last (performance.now()); oldest first. */
  private readonly seenPeers = new Map<string, number>()
  private readonly peerKadIds = new Map<string, Uint8Array>()
  /** Peer ids parsed (a parse is a base58 decode; isConnected() runs for each holder of each record). */
  private readonly parsedPeerIds = new Map<string, PeerId>()
  /** Providers that sent this node records as a home, and when last (performance.now()); oldest first. */
  private readonly providersHere = new Map<string, number>()
  /** The homes of this node's originals and the providers it is a home of: their connections are kept before others. */
  private readonly recordPeers: PeerTags
  private readonly providerValidityMs: number
  private readonly host: Host
  private readonly messenger: DirectoryMessenger
  private readonly announceTimeoutMs: number
  private readonly dhtProvideDelayMs: number
  private readonly onError: (err: Error) => void
  private selfKadId?: Uint8Array
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelayMs = RETRY_FIRST_MS
  private retrying = false
  /** Peers connected when a walk last stored nothing. */
  private peersAtLastFailure = 0
  private readonly reannounceTimer: NodeJS.Timeout
  /** DHT walks DHT_WALKS at a time: a burst of new producers is not a burst of walks. */
  private readonly dhtQueues: Array<Promise<void>> = Array.from({ length: DHT_WALKS }, async () => {})
  private dhtNext = 0
  private stopped = false
  /** Neighbour records and withdrawals waiting for their batch (NEIGHBOUR_BATCH_MS). */
  private neighbourBatch: { add: Set<string>, remove: Set<string>, sent: Promise<void> } | undefined

  constructor (init: ProducerDirectoryInit) {
    this.host = init.host
    this.messenger = init.messenger
    this.announceTimeoutMs = init.announceTimeoutMs
    this.dhtProvideDelayMs = init.dhtProvideDelayMs
    this.onError = init.onError
    this.homeRecords = new HomeRecords(init.providerValidityMs, undefined, (provider) => this.isConnected(provider))
    this.providerValidityMs = init.providerValidityMs
    this.recordPeers = recordPeerTags(this.host)
    this.host.addEventListener('peer:identify', this.onPeerIdentified)
    this.host.addEventListener('peer:disconnect', this.onPeerDisconnected)
    // Home records expire after the validity: each home hears from us twice within it.
    this.reannounceTimer = setInterval(() => { void this.reannounce() }, init.providerValidityMs / 2)
    this.reannounceTimer.unref()
  }

  /**
   * Announces that this node can serve `producerId`: to its homes at once (resolves when
   * they answered or gave up), and an original to the DHT once it has lived
   * `dhtProvideDelayMs`. When no other node took the DHT record (a node alone, or between
   * connections), it is sent again with backing off, and at once when a peer joins a node
   * that had almost none; a joining peer that is one of the producer's homes gets its record.
   * Where the records of each `kind` go: RecordKind.
   */
  async announce (producerId: string, kind: RecordKind = 'original'): Promise<void> {
    this.announced.set(producerId, kind)
    // A copy's holders are those of a re-announcement (sendToHomes: the connected among its HOMES).
    if (kind === 'copy') {
      await this.sendToHomes([producerId], [])
      return
    }
    const original = kind === 'original'
    if (original) {
      setTimeout(() => {
        const i = this.dhtNext++ % DHT_WALKS
        this.dhtQueues[i] = this.dhtQueues[i]!.then(async () => { await this.provideOriginal(producerId) })
      }, this.dhtProvideDelayMs * (1 + Math.random() / 5)).unref()
    }
    // Waves: the HOMES closest known, then those the homes named closer (views differ while
    // routing tables fill), and the next closest in place of a home that did not answer.
    const closest = await this.homesOf(producerId, undefined, LOOKUP_HOMES)
    const known = new Set(closest)
    // At once and without waves: the connected among the next closest; an original's to
    // every other node this one is connected to, with the next batch.
    const nearby = this.holdersAmong(closest).filter((h) => !h.dial).map((h) => h.peerId)
    if (original) this.recordPeers.add(closest.slice(0, HOMES).filter((peerId) => peerId !== this.host.peerId.toString()))
    const toNeighbours = original ? this.toNeighbours([producerId], []) : undefined
    const toNearby = Promise.all(nearby.map(async (peerId) => await this.sendTo(peerId, [producerId], [])))
    const tried = new Set<string>(nearby)
    let failed = 0
    for (let wave = 0; wave < ANNOUNCE_WAVES; wave++) {
      const next = (await this.closest(producerId, [...known], HOMES + failed))
        .filter((peerId) => !tried.has(peerId) && (original || this.isConnected(peerId)))
      if (next.length === 0) break
      for (const peerId of next) tried.add(peerId)
      const answers = await Promise.all(next.map(async (home) => await this.sendTo(home, [producerId], [])))
      for (const answer of answers) {
        if (!answer.ok) failed++
        for (const c of answer.closer) {
          if (known.has(c.peerId)) continue
          known.add(c.peerId)
          await this.learnAddresses(c.peerId, c.multiaddrs)
        }
      }
    }
    await Promise.all([toNearby, toNeighbours])
    log.trace('announced %s to %s (%d did not answer)', producerId, [...tried].join(' '), failed)
  }

  private async provideOriginal (producerId: string): Promise<void> {
    if (this.stopped || this.announced.get(producerId) !== 'original') return
    if (await this.provide(producerId) === 0 && this.announced.get(producerId) === 'original') {
      this.unstored.add(producerId)
      this.scheduleRetry()
    }
  }

  /** The DHT id of a producer's key (kept: a lookup and an announcement need it more than once). */
  private async producerKadId (producerId: string): Promise<Uint8Array> {
    let id = this.kadIds.get(producerId)
    if (id === undefined) {
      id = await kadId((await producerKey(producerId)).multihash.bytes)
      if (this.kadIds.size > 10_000) this.kadIds.clear()
      this.kadIds.set(producerId, id)
    }
    return id
  }

  private async peerKadId (peerId: string): Promise<Uint8Array> {
    let id = this.peerKadIds.get(peerId)
    if (id === undefined) {
      id = await kadId(peerIdFromString(peerId).toMultihash().bytes)
      if (this.peerKadIds.size > 10_000) this.peerKadIds.clear()
      this.peerKadIds.set(peerId, id)
    }
    return id
  }

  /**
   * The `count` (HOMES) nodes closest to `producerId`'s key among this node, the peers of
   * its routing table, the peers it saw connected lately (and `extra`, a peer about to enter
   * the table), by XOR distance, closest first.
   */
  async homesOf (producerId: string, extra?: string, count = HOMES): Promise<string[]> {
    return await this.homesAmong(producerId, await this.homeCandidates(extra), count)
  }

  /**
   * The nodes homes are chosen among now: this node, the routing table's peers, and the
   * connected ones, as a peer enters the table a moment after it connects (the DHT checks it
   * first) and both sides of a new connection must agree on the homes meanwhile; also those
   * seen connected lately, and `extra`. Made once for a batch of producers: per producer it
   * was most of a node's CPU under churn (a handover of every record on each new connection).
   */
  private async homeCandidates (extra?: string): Promise<HomeCandidates> {
    const candidates: HomeCandidates = new Map()
    this.selfKadId ??= await kadId(this.host.peerId.toMultihash().bytes)
    candidates.set(this.host.peerId.toString(), this.selfKadId)
    const table = (this.host.services.dht as unknown as RoutingTableView).routingTable?.kb?.toIterable() ?? []
    for (const { peerId, kadId } of table) candidates.set(peerId.toString(), kadId)
    const since = performance.now() - SEEN_PEER_TTL_MS
    const others = this.connectedPeers()
    for (const [peerId, at] of this.seenPeers) if (at >= since) others.push(peerId)
    if (extra !== undefined) others.push(extra)
    for (const peerId of others) if (!candidates.has(peerId)) candidates.set(peerId, await this.peerKadId(peerId))
    return candidates
  }

  /** The `count` of `candidates` closest to `producerId`'s key (XOR), closest first. */
  private async homesAmong (producerId: string, candidates: HomeCandidates, count: number): Promise<string[]> {
    const key = await this.producerKadId(producerId)
    const ids: Array<{ peerId: string, distance: Uint8Array }> = []
    for (const [peerId, id] of candidates) ids.push({ peerId, distance: xor(id, key) })
    return ids.sort((a, b) => compare(a.distance, b.distance)).slice(0, count).map((c) => c.peerId)
  }

  /**
   * Where the records of `producerId` go: the HOMES closest (`dial`: an original's are
   * reached even without a connection), and the connected among the LOOKUP_HOMES closest.
   */
  private async holdersOf (producerId: string, candidates: HomeCandidates): Promise<Array<{ peerId: string, dial: boolean }>> {
    return this.holdersAmong(await this.homesAmong(producerId, candidates, LOOKUP_HOMES))
  }

  /** The holders among `closest`, the LOOKUP_HOMES closest to a key, closest first. */
  private holdersAmong (closest: string[]): Array<{ peerId: string, dial: boolean }> {
    return closest.flatMap((peerId, i): Array<{ peerId: string, dial: boolean }> => i < HOMES ? [{ peerId, dial: true }] : this.isConnected(peerId) ? [{ peerId, dial: false }] : [])
  }

  /** Whether this node is one of the HOMES closest to `producerId`'s key it knows of. */
  async isHomeOf (producerId: string): Promise<boolean> {
    return (await this.homesOf(producerId)).includes(this.host.peerId.toString())
  }

  /** The `count` of `peerIds` closest to `producerId`'s key (XOR), closest first. */
  private async closest (producerId: string, peerIds: string[], count: number): Promise<string[]> {
    const candidates: HomeCandidates = new Map()
    for (const peerId of peerIds) if (!candidates.has(peerId)) candidates.set(peerId, await this.peerKadId(peerId))
    return await this.homesAmong(producerId, candidates, count)
  }

  /**
   * What a home answers beside its records: the nodes it knows closest to the producer's
   * key (itself excluded, and `exclude`), with their addresses.
   */
  async closerPeers (producerId: string, exclude: string[]): Promise<ProviderInfo[]> {
    const self = this.host.peerId.toString()
    return await this.withAddresses((await this.homesOf(producerId)).filter((peerId) => peerId !== self && !exclude.includes(peerId)))
  }

  /**
   * This node's answer to a `locate` of `producerId` from `requester`: the providers its
   * records name (a home waits up to `waitMs` for an announcement to land), or, when it
   * has none at once and the requester asked it to `forward`, those that the holders of the
   * records it is connected to name (one hop more, over connections that exist: a requester
   * connected to no holder would otherwise dial the homes, one handshake each, and a node
   * that just joined knows only its bootstrap node). With no provider, the nodes it knows
   * closer to the key. At most `max` providers.
   */
  async answerLocate (producerId: string, waitMs: number, requester: string, forward: boolean, max: number): Promise<{ providers: ProviderInfo[], closer: ProviderInfo[] }> {
    const notRequester = (ids: string[]): string[] => ids.filter((p) => p !== requester).slice(0, max)
    let providers = await this.withAddresses(notRequester(this.homeRecords.providers(producerId)))
    if (providers.length === 0) {
      const found = new AbortController()
      // Only a home waits for an announcement: a node that knows closer ones answers at once.
      const waiting = await this.isHomeOf(producerId) && waitMs > 0
        ? this.homeRecords.providersWithin(producerId, waitMs, found.signal).then(async (ids) => await this.withAddresses(notRequester(ids)))
        : Promise.resolve([])
      const asking = forward ? this.askHolders(producerId, requester, found.signal) : Promise.resolve([])
      providers = (await firstNonEmpty([waiting, asking])).slice(0, max)
      found.abort()
    }
    // Closer nodes only matter when this one has nothing: a requester then asks them.
    return { providers, closer: providers.length > 0 ? [] : await this.closerPeers(producerId, [requester]) }
  }

  /**
   * The providers that the holders of `producerId`'s records this node is connected to
   * name (at most HOMES of them asked, closest first, `requester` excepted; never
   * forwarded again). Resolves at the first that names one, or when all have answered.
   * They are not asked to wait for a record: a forwarded answer that is slow to say "none"
   * would hold the requester back from dialling the homes.
   */
  private async askHolders (producerId: string, requester: string, signal: AbortSignal): Promise<ProviderInfo[]> {
    const self = this.host.peerId.toString()
    const holders = this.holdersAmong(await this.homesOf(producerId, undefined, LOOKUP_HOMES))
      .map((h) => h.peerId)
      .filter((peerId) => peerId !== self && peerId !== requester && this.isConnected(peerId))
      .slice(0, HOMES)
    return await firstNonEmpty(holders.map(async (holder) => {
      if (signal.aborted) return []
      try {
        const answer = await this.messenger.locate(holder, producerId, 0, false)
        return answer.providers.filter((p) => p.peerId !== requester && p.peerId !== self)
      } catch (err) {
        log.debug('holder %s not asked for %s: %s', holder, producerId, describeError(err))
        return []
      }
    }))
  }

  private async withAddresses (peerIds: string[]): Promise<ProviderInfo[]> {
    return await Promise.all(peerIds.map(async (peerId) => ({ peerId, multiaddrs: await this.addressesOf(peerId) })))
  }

  /** Addresses this node knows for a peer, at most 8 (what a message may carry). */
  async addressesOf (peerId: string): Promise<string[]> {
    return await this.host.peerStore.get(peerIdFromString(peerId))
      .then((p) => p.addresses.map((a) => a.multiaddr.toString()).slice(0, 8), () => [])
  }

  /**
   * Sends records (and withdrawals) to the holders of each producer (RecordKind says which
   * for each kind): one message per holder. Those of copies and rooms only to the holders
   * this node is connected to (a withdrawal names the kind it was announced as,
   * `withdrawnAs`, being no longer announced): a dial per copy and per re-announcement kept
   * 50 nodes' connections churning.
   */
  private async sendToHomes (producerIds: string[], withdrawn: string[], only?: string, withdrawnAs: RecordKind = 'original'): Promise<Set<string>> {
    const byHome = new Map<string, { add: string[], remove: string[] }>()
    const originalsHomes = new Set<string>()
    const candidates = await this.homeCandidates(only)
    for (const [ids, field] of [[producerIds, 'add'], [withdrawn, 'remove']] as const) {
      for (const producerId of ids) {
        const kind = this.announced.get(producerId) ?? withdrawnAs
        for (const { peerId: home, dial } of await this.holdersOf(producerId, candidates)) {
          if (only !== undefined && home !== only) continue
          if (kind !== 'original' && !this.isConnected(home)) continue
          // A copy's holders are its HOMES only (dial marks those).
          if (kind === 'copy' && !dial) continue
          if (kind === 'original' && dial && field === 'add') originalsHomes.add(home)
          let batch = byHome.get(home)
          if (batch === undefined) byHome.set(home, batch = { add: [], remove: [] })
          batch[field].push(producerId)
        }
      }
    }
    // The homes' closer nodes are for the waves of a first announcement (announce()).
    await Promise.all([...byHome].map(async ([home, { add, remove }]) => await this.sendTo(home, add, remove, 'refresh')))
    originalsHomes.delete(this.host.peerId.toString())
    return originalsHomes
  }

  /**
   * Neighbour records of originals (and their withdrawals) to every node this one is
   * connected to: queued, and sent NEIGHBOUR_BATCH_MS later with the others, one message
   * per node. Resolves when sent.
   */
  private async toNeighbours (add: string[], remove: string[]): Promise<void> {
    const batch = this.neighbourBatch ??= {
      add: new Set(),
      remove: new Set(),
      sent: delay(NEIGHBOUR_BATCH_MS).then(async () => {
        this.neighbourBatch = undefined
        await this.sendNeighbourRecords(this.connectedPeers(), batch.add, batch.remove)
      }).catch((err: Error) => log.debug('neighbour records not sent: %s', describeError(err)))
    }
    for (const producerId of add) { batch.remove.delete(producerId); batch.add.add(producerId) }
    for (const producerId of remove) { batch.add.delete(producerId); batch.remove.add(producerId) }
    await batch.sent
  }

  /**
   * Neighbour records (`add`) and withdrawals (`remove`) to `peers`, each leaving out the
   * producers it is a holder of (it has those through the announcement to the holders).
   */
  private async sendNeighbourRecords (peers: string[], add: Iterable<string>, remove: Iterable<string>): Promise<void> {
    if (this.stopped) return
    const byPeer = new Map<string, { add: string[], remove: string[] }>(peers.map((peerId) => [peerId, { add: [], remove: [] }]))
    const candidates = await this.homeCandidates()
    for (const [ids, field] of [[add, 'add'], [remove, 'remove']] as const) {
      for (const producerId of ids) {
        const holders = new Set((await this.holdersOf(producerId, candidates)).map((h) => h.peerId))
        for (const [peerId, lists] of byPeer) if (!holders.has(peerId)) lists[field].push(producerId)
      }
    }
    await Promise.all([...byPeer].map(async ([peerId, { add, remove }]) => {
      if (add.length > 0 || remove.length > 0) await this.sendTo(peerId, add, remove, 'neighbour')
    }))
  }

  /** The nodes this node has an open connection with. */
  private connectedPeers (): string[] {
    const peers = new Set<string>()
    for (const connection of this.host.getConnections()) if (connection.status === 'open') peers.add(connection.remotePeer.toString())
    return [...peers]
  }

  private isConnected (peerId: string): boolean {
    if (peerId === this.host.peerId.toString()) return true
    let parsed = this.parsedPeerIds.get(peerId)
    if (parsed === undefined) {
      parsed = peerIdFromString(peerId)
      if (this.parsedPeerIds.size > 10_000) this.parsedPeerIds.clear()
      this.parsedPeerIds.set(peerId, parsed)
    }
    return this.host.getConnections(parsed).some((c) => c.status === 'open')
  }

  /**
   * Records (and withdrawals) to one home, or a neighbour (`as`), in messages of at most
   * MAX_ANNOUNCED ids. `ok`: every message answered.
   */
  private async sendTo (home: string, add: string[], remove: string[], as: AnnounceAs = 'home'): Promise<{ ok: boolean, closer: ProviderInfo[] }> {
    if (home === this.host.peerId.toString()) {
      this.homeRecords.store(home, add, remove)
      return { ok: true, closer: [] }
    }
    const closer: ProviderInfo[] = []
    let ok = true
    for (let i = 0; i < Math.max(add.length, remove.length); i += MAX_ANNOUNCED) {
      await this.messenger.announce(home, add.slice(i, i + MAX_ANNOUNCED), remove.slice(i, i + MAX_ANNOUNCED), as)
        .then((answer) => closer.push(...answer.closer), (err: Error) => {
          ok = false
          this.unreachable(home)
          log.debug('records not sent to home %s: %s', home, describeError(err))
        })
    }
    return { ok, closer }
  }

  /** Every announced producer to its homes again (they may have changed; records expire). */
  private async reannounce (): Promise<void> {
    if (this.stopped) return
    const homes = this.announced.size === 0 ? [] : await this.sendToHomes([...this.announced.keys()], [])
    const since = performance.now() - this.providerValidityMs
    for (const [provider, at] of this.providersHere) if (at < since) this.providersHere.delete(provider)
    this.recordPeers.set([...homes, ...this.providersHere.keys()])
  }

  /**
   * Stores records `provider` sent (`asNeighbour`: as to a node it is connected to, not as
   * to a home). A provider that sends records to this node as a home does so every half
   * validity: its connection is kept before others (a dial costs more than the connection).
   */
  storeRecords (provider: string, producerIds: readonly string[], withdrawn: readonly string[], asNeighbour: boolean): void {
    this.homeRecords.store(provider, producerIds, withdrawn)
    if (asNeighbour || producerIds.length === 0) return
    this.providersHere.delete(provider)
    this.providersHere.set(provider, performance.now())
    if (this.providersHere.size > MAX_SEEN_PEERS) this.providersHere.delete(this.providersHere.keys().next().value!)
    this.recordPeers.add([provider])
  }

  /** Peers that stored the record. */
  private async provide (producerId: string): Promise<number> {
    let stored = 0
    try {
      for await (const event of this.host.services.dht.provide(await producerKey(producerId), { signal: AbortSignal.timeout(this.announceTimeoutMs) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
      }
    } catch (err) {
      // Running out of time is what an announcement of a node alone does: retried, not reported.
      if (!this.stopped && !['TimeoutError', 'AbortError'].includes((err as Error).name)) this.onError(err as Error)
    }
    if (stored === 0) this.peersAtLastFailure = this.host.getConnections().length
    return stored
  }

  /**
   * A new peer speaks the DHT now: it gets the records of producers it is a home of, and
   * DHT records nobody stored yet go out soon.
   */
  private readonly onPeerIdentified = (event: CustomEvent<{ peerId: PeerId }>): void => {
    const peerId = event.detail.peerId.toString()
    this.sawPeer(peerId)
    if (this.announced.size > 0) {
      void this.sendToHomes([...this.announced.keys()], [], peerId)
        .catch((err: Error) => log.debug('records not handed to %s: %s', peerId, describeError(err)))
      // And, as a neighbour, the most recent originals (their homes have the rest).
      const originals = [...this.announced].filter(([, kind]) => kind === 'original').map(([producerId]) => producerId)
      void this.sendNeighbourRecords([peerId], originals.slice(-MAX_NEIGHBOUR_RECORDS), [])
        .catch((err: Error) => log.debug('neighbour records not handed to %s: %s', peerId, describeError(err)))
    }
    if (this.unstored.size === 0 || this.peersAtLastFailure >= FEW_PEERS) return
    this.retryDelayMs = RETRY_FIRST_MS
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.scheduleRetry()
  }

  private readonly onPeerDisconnected = (event: CustomEvent<PeerId>): void => {
    this.sawPeer(event.detail.toString())
  }

  private sawPeer (peerId: string): void {
    this.seenPeers.delete(peerId)
    this.seenPeers.set(peerId, performance.now())
    if (this.seenPeers.size > MAX_SEEN_PEERS) this.seenPeers.delete(this.seenPeers.keys().next().value!)
  }

  /** A peer that could not be reached: no longer counted among the nodes this one knows of. */
  private unreachable (peerId: string): void {
    if (!this.isConnected(peerId)) this.seenPeers.delete(peerId)
  }

  private scheduleRetry (): void {
    if (this.retryTimer !== undefined || this.stopped) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.retryUnstored()
    }, this.retryDelayMs)
    this.retryTimer.unref()
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_LAST_MS)
  }

  private async retryUnstored (): Promise<void> {
    if (this.retrying) return
    this.retrying = true
    try {
      for (const producerId of [...this.unstored]) {
        if (await this.provide(producerId) > 0) this.unstored.delete(producerId)
      }
    } finally {
      this.retrying = false
    }
    if (this.unstored.size > 0) this.scheduleRetry()
    else this.retryDelayMs = RETRY_FIRST_MS
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    clearInterval(this.reannounceTimer)
    this.homeRecords.stop()
    this.host.removeEventListener('peer:identify', this.onPeerIdentified)
    this.host.removeEventListener('peer:disconnect', this.onPeerDisconnected)
  }

  /** Stops announcing `producerId` from this node, and withdraws its home records. */
  async withdraw (producerId: string): Promise<void> {
    this.unstored.delete(producerId)
    const kind = this.announced.get(producerId)
    if (kind === undefined) return
    this.announced.delete(producerId)
    const original = kind === 'original'
    await Promise.all([
      this.sendToHomes([], [producerId], undefined, kind),
      original ? this.toNeighbours([], [producerId]) : undefined
    ])
    if (original) await this.host.services.dht.cancelReprovide(await producerKey(producerId)).catch(this.onError)
  }

  /** The node that last served this producer here, if any. */
  cachedLocation (producerId: string): string | undefined {
    return this.locations.get(producerId)
  }

  remember (producerId: string, peerId: string): void {
    this.locations.set(producerId, peerId)
  }

  forget (producerId: string, peerId?: string): void {
    if (peerId === undefined || this.locations.get(producerId) === peerId) this.locations.delete(producerId)
  }

  /** Forgets every cached location on `peerId` (it went away). */
  forgetPeer (peerId: string): void {
    for (const [producer, peer] of this.locations) if (peer === peerId) this.locations.delete(producer)
  }

  /**
   * Providers of `producerId` other than this node: those of its own home records, then
   * those its homes answer (asked at once, yielded as their answers come), then those of
   * its DHT store and a DHT query. The DHT's generator is used directly (not libp2p's
   * content routing, which reads ahead): while the caller pulls from a provider found
   * earlier, no network query runs to compete with the pull for the CPU; one starts only
   * if the caller asks for more. It stops when the caller stops iterating. Peers in
   * `avoid` are neither yielded nor asked.
   */
  async * findProviders (producerId: string, signal: AbortSignal, avoid: ReadonlySet<string> = new Set()): AsyncGenerator<string> {
    const self = this.host.peerId.toString()
    const seen = new Set<string>([self, ...avoid])
    const fresh = (peerIds: string[]): string[] => peerIds.filter((peerId) => {
      if (seen.has(peerId)) return false
      seen.add(peerId)
      return true
    })
    yield * fresh(this.homeRecords.providers(producerId))
    const asked = new Set(seen)
    type Answer = { providers: string[], closer: ProviderInfo[] }
    const none: Answer = { providers: [], closer: [] }
    let named = false
    const askOne = async (home: string): Promise<Answer> => {
      asked.add(home)
      try {
        const answer = await this.messenger.locate(home, producerId, LOCATE_WAIT_MS, true)
        await Promise.all(answer.providers.map(async (p) => { await this.learnAddresses(p.peerId, p.multiaddrs) }))
        if (answer.providers.length > 0) named = true
        return { providers: answer.providers.map((p) => p.peerId), closer: answer.closer }
      } catch (err) {
        log.debug('home %s not asked for %s: %s', home, producerId, describeError(err))
        this.unreachable(home)
        failed++
        return none
      }
    }
    const ask = (homes: string[]): Array<Promise<Answer>> => homes.filter((home) => !asked.has(home)).map(askOne)
    // The connected first; the unconnected among the HOMES closest (only those hold records
    // without a connection) once those named nobody (LOCATE_HEDGE_MS). One not asked in
    // the end stays unasked, so that a later round may still ask it.
    const askConnectedFirst = (homes: string[]): Array<Promise<Answer>> => {
      const unasked = homes.filter((home) => !asked.has(home))
      const connected = unasked.filter((home) => this.isConnected(home))
      const others = unasked.filter((home) => !connected.includes(home) && homes.indexOf(home) < HOMES)
      if (connected.length === 0) return ask(others)
      if (others.length === 0) return ask(connected)
      const first = ask(connected)
      const allAnswered = Promise.all(first)
      const later = others.map(async (home) => {
        await hedge(allAnswered, LOCATE_HEDGE_MS)
        return named || signal.aborted ? none : await askOne(home)
      })
      return [...first, ...later]
    }
    let failed = 0
    // A peer to avoid (given up, or the one being left) is not asked either: asking would dial it again.
    let round = await this.homesOf(producerId, undefined, LOOKUP_HOMES)
    const closer: ProviderInfo[] = []
    for (let r = 0; r < LOOKUP_ROUNDS && round.length > 0; r++) {
      // A home that does not answer must not hold the lookup past its deadline.
      for await (const answer of inOrderOfArrival(r === 0 ? askConnectedFirst(round) : ask(round), signal)) {
        if (signal.aborted) return
        closer.push(...answer.closer)
        yield * fresh(answer.providers)
      }
      if (signal.aborted) return
      // Nobody had it (or the caller wants more): the nodes the homes know closer to the
      // key, until no one names a node not asked yet (a node that just joined knows few).
      // In place of a home that did not answer, the next closest this node knows.
      const known = await this.homesOf(producerId, undefined, 2 * LOOKUP_HOMES)
      const next = (await this.closest(producerId, [...known, ...closer.map((c) => c.peerId)], LOOKUP_HOMES + failed)).filter((peerId) => !asked.has(peerId))
      log.trace('%s not at %s; asking %s', producerId, round.join(' '), next.join(' '))
      await Promise.all(closer.filter((c) => next.includes(c.peerId)).map(async (c) => { await this.learnAddresses(c.peerId, c.multiaddrs) }))
      round = next
    }
    const done = new AbortController()
    try {
      yield * this.query(producerId, AbortSignal.any([signal, done.signal]), self, seen)
    } finally {
      done.abort()
    }
  }

  /**
   * Every provider of `producerId` that this node's records and the homes name, at most
   * `max`, without a DHT walk (a room's poll repeats it: it must stay about one round trip).
   * The homes are asked without waiting (`waitMs` 0); while none names a provider, the
   * closer nodes they name are asked next (at most LOOKUP_ROUNDS rounds).
   */
  async homeProviders (producerId: string, max: number): Promise<string[]> {
    const self = this.host.peerId.toString()
    const found = new Set(this.homeRecords.providers(producerId))
    const asked = new Set([self])
    let round = await this.homesOf(producerId, undefined, LOOKUP_HOMES)
    for (let r = 0; r < LOOKUP_ROUNDS; r++) {
      const homes = round.filter((home) => !asked.has(home))
      if (homes.length === 0) break
      const closer: ProviderInfo[] = []
      await Promise.all(homes.map(async (home) => {
        asked.add(home)
        try {
          const answer = await this.messenger.locate(home, producerId, 0, false)
          for (const p of answer.providers) {
            found.add(p.peerId)
            await this.learnAddresses(p.peerId, p.multiaddrs)
          }
          closer.push(...answer.closer)
        } catch (err) {
          log.debug('home %s not asked for %s: %s', home, producerId, describeError(err))
        }
      }))
      found.delete(self)
      if (found.size > 0) break
      await Promise.all(closer.map(async (c) => { await this.learnAddresses(c.peerId, c.multiaddrs) }))
      round = await this.closest(producerId, closer.map((c) => c.peerId), LOOKUP_HOMES)
    }
    found.delete(self)
    return [...found].slice(0, max)
  }

  /**
   * Keeps addresses another node gave for `peerId` (a provider, a closer node, a redirect's
   * candidate), so that it can be dialled. Not for a connected peer: it is reached on its
   * connection and identify stored its addresses, and a peer-store write is most of an
   * answer's cost to the requester.
   */
  async learnAddresses (peerId: string, multiaddrs: string[]): Promise<void> {
    if (multiaddrs.length === 0 || this.isConnected(peerId)) return
    await this.host.peerStore.merge(peerIdFromString(peerId), { multiaddrs: multiaddrs.map((m) => multiaddr(m)) })
      .catch((err: Error) => log.trace('addresses of provider %s not kept: %s', peerId, describeError(err)))
  }

  private async * query (producerId: string, signal: AbortSignal, self: string, seen: Set<string>): AsyncGenerator<string> {
    for await (const event of this.host.services.dht.findProviders(await producerKey(producerId), { signal })) {
      if (event.name !== 'PROVIDER') continue
      for (const provider of event.providers) {
        const peerId = provider.id.toString()
        if (peerId === self || seen.has(peerId)) continue
        seen.add(peerId)
        if (provider.multiaddrs.length > 0) {
          await this.host.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs })
            .catch((err: Error) => log.trace('addresses of provider %s not kept: %s', peerId, describeError(err)))
        }
        yield peerId
      }
    }
  }
}

/** The first non-empty list of `lists` (they must not reject), or an empty one when all are. */
async function firstNonEmpty<T> (lists: Array<Promise<T[]>>): Promise<T[]> {
  return await new Promise((resolve) => {
    let left = lists.length
    if (left === 0) resolve([])
    for (const list of lists) {
      void list.then((items) => {
        left--
        if (items.length > 0 || left === 0) resolve(items)
      })
    }
  })
}

/** Resolves when `settled` does, or after `ms`, whichever comes first (it must not reject). */
async function hedge (settled: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([settled, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/** The values of `promises` as each settles (they must not reject), until `signal` aborts. */
async function * inOrderOfArrival<T> (promises: Array<Promise<T>>, signal: AbortSignal): AsyncGenerator<T> {
  const pending = new Map(promises.map((p, i) => [i, p.then((value) => ({ i, value }))]))
  const aborted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined)
    else signal.addEventListener('abort', () => resolve(undefined), { once: true })
  })
  while (pending.size > 0) {
    const next = await Promise.race([...pending.values(), aborted])
    if (next === undefined) return
    pending.delete(next.i)
    yield next.value
  }
}
