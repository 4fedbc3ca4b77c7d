// Rooms across the swarm (docs/api.md#rooms, docs/protocol.md#rooms). A producer's room is
// its `appData.room`. No node keeps a list of a room: each node that has producers created
// in room R (originals, not copies) announces R's directory id to R's homes, like a
// producer; a node watching R asks the homes which nodes those are, and asks each of them
// for its producers of R (`room-producers`), every `timeouts.roomPoll`.
//
// Why polling rather than subscriptions held by the publishing nodes: nothing is kept on a
// node for its watchers (no per-peer state to bound against a hostile member, nothing left
// behind by a watcher that vanished), and a watch heals by itself after a partition or a
// restart; the price is a delay of up to one period for producers of other nodes (those of
// this node are seen at once). The cost is bounded: at most MAX_WATCHED_ROOMS rooms, each
// poll a locate to its homes and one request to each of at most MAX_ROOM_PROVIDERS nodes.
import { RoomLimitError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import { roomDirectoryId } from '../../directory/producer-directory.js'
import { MAX_ROOM_APPDATA_BYTES, MAX_ROOM_LENGTH, MAX_ROOM_PRODUCERS } from '../../protocol/messages.js'
import { roomOf } from '../../signalling/grants.js'
import { isDataProducer } from '../../media/producer-registry.js'
import type { ProducerEntry, ProducerRegistry } from '../../media/producer-registry.js'
import type { RoomProducer } from '../../protocol/messages.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:rooms')

/** Rooms a node watches at once at most (each costs a poll every `timeouts.roomPoll`). */
export const MAX_WATCHED_ROOMS = 16
/** Nodes asked for a room's producers in one poll at most (a `locate` answer names at most 16). */
export const MAX_ROOM_PROVIDERS = 16
/** A node that fails to answer this many polls in a row is taken as gone: its producers are reported closed. */
const MISSED_POLLS_BEFORE_GONE = 2

/** A change in a watched room. */
export type RoomEvent =
  | { type: 'newproducer', room: string, producer: RoomProducer }
  | { type: 'producerclosed', room: string, producerId: string }

/** What node.watchRoom() resolves with. */
export interface RoomWatch {
  /** The room's producers, swarm-wide, when the watch began. */
  readonly producers: RoomProducer[]
  /** Stops the listener (the room's poll stops with its last watcher). Idempotent. */
  stop: () => void
}

export interface RoomsInit {
  localPeerId: string
  registry: ProducerRegistry
  directory: {
    announce: (id: string, kind: 'room') => Promise<void>
    withdraw: (id: string) => Promise<void>
    homeProviders: (id: string, max: number) => Promise<string[]>
  }
  /** Asks `peerId` for its producers of `room` (`room-producers`). */
  ask: (peerId: string, room: string) => Promise<RoomProducer[]>
  pollMs: number
}

interface Listed { producer: RoomProducer, peerId: string }

interface WatchedRoom {
  listeners: Set<(event: RoomEvent) => void>
  producers: Map<string, Listed>
  /** Nodes that listed producers of the room at the last poll, and the polls each missed since. */
  providers: Map<string, number>
  ready: Promise<void>
  timer: NodeJS.Timeout | undefined
  polling: boolean
}

/** A producer as a room lists it: small appData whole, a large one cut to its room. */
export function roomProducerOf (producer: ms.Producer, room: string): RoomProducer {
  const appData = Buffer.byteLength(JSON.stringify(producer.appData)) <= MAX_ROOM_APPDATA_BYTES ? producer.appData : { room }
  return { id: producer.id, kind: producer.kind, paused: producer.paused, appData }
}

export class Rooms {
  /** Producers created on this node (not copies), by room. */
  private readonly local = new Map<string, Map<string, ms.Producer>>()
  private readonly watched = new Map<string, WatchedRoom>()
  /**
   * The last announcement or withdrawal of each room, each sent after the one before has
   * ended: a room left and joined again at once must not have its withdrawal reach a home
   * after its new announcement (the home would drop the record until the next re-announce).
   */
  private readonly directoryOps = new Map<string, Promise<void>>()
  private stopped = false

  constructor (private readonly init: RoomsInit) {
    init.registry.on('add', (entry) => this.onAdd(entry))
    init.registry.on('remove', (entry) => this.onRemove(entry))
  }

  /** At most MAX_ROOM_PRODUCERS producers created on this node in `room` (what `room-producers` answers). */
  localProducers (room: string): RoomProducer[] {
    return [...(this.local.get(room)?.values() ?? [])].slice(0, MAX_ROOM_PRODUCERS).map((p) => roomProducerOf(p, room))
  }

  /**
   * Watches `room`: resolves with its producers swarm-wide, then calls `listener` with each
   * producer that appears in it or closes, until `stop()`.
   *
   * @throws TypeError a room that is not a string of 1-128 characters
   * @throws RoomLimitError the node watches MAX_WATCHED_ROOMS other rooms already
   */
  async watch (room: string, listener: (event: RoomEvent) => void): Promise<RoomWatch> {
    if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_LENGTH) throw new TypeError(`room must be a string of 1-${MAX_ROOM_LENGTH} characters`)
    let state = this.watched.get(room)
    if (state === undefined) {
      if (this.watched.size >= MAX_WATCHED_ROOMS) throw new RoomLimitError(room, MAX_WATCHED_ROOMS)
      const created: WatchedRoom = { listeners: new Set(), producers: new Map(), providers: new Map(), ready: Promise.resolve(), timer: undefined, polling: false }
      this.watched.set(room, state = created)
      created.ready = this.poll(room, created)
      created.timer = setInterval(() => { void this.poll(room, created) }, this.init.pollMs)
      created.timer.unref()
    }
    const watched = state
    await watched.ready
    // Its other watchers all stopped while this one waited: the poll ended with them.
    if (this.watched.get(room) !== watched) return await this.watch(room, listener)
    watched.listeners.add(listener)
    let stopped = false
    return {
      producers: [...watched.producers.values()].map((l) => l.producer),
      stop: () => {
        if (stopped) return
        stopped = true
        watched.listeners.delete(listener)
        if (watched.listeners.size === 0 && this.watched.get(room) === watched) {
          clearInterval(watched.timer)
          this.watched.delete(room)
        }
      }
    }
  }

  stop (): void {
    this.stopped = true
    for (const state of this.watched.values()) clearInterval(state.timer)
    this.watched.clear()
  }

  private onAdd ({ producer, isCopy }: ProducerEntry): void {
    // Rooms list media producers (data producers are found by id).
    if (isDataProducer(producer)) return
    const room = roomOf(producer)
    if (isCopy || room === undefined || room.length > MAX_ROOM_LENGTH) return
    let producers = this.local.get(room)
    if (producers === undefined) {
      this.local.set(room, producers = new Map())
      this.inOrder(room, async () => { await this.init.directory.announce(roomDirectoryId(room), 'room') })
    }
    producers.set(producer.id, producer)
    this.update(room, producer.id, { producer: roomProducerOf(producer, room), peerId: this.init.localPeerId })
  }

  private onRemove ({ producer, isCopy }: ProducerEntry): void {
    if (isDataProducer(producer)) return
    const room = roomOf(producer)
    if (isCopy || room === undefined) return
    const producers = this.local.get(room)
    if (producers?.get(producer.id) !== producer) return
    producers.delete(producer.id)
    if (producers.size === 0) {
      this.local.delete(room)
      if (!this.stopped) this.inOrder(room, async () => { await this.init.directory.withdraw(roomDirectoryId(room)) })
    }
    this.update(room, producer.id, undefined)
  }

  private inOrder (room: string, op: () => Promise<void>): void {
    const next = (this.directoryOps.get(room) ?? Promise.resolve()).then(op).catch((err: unknown) => {
      log.debug('room %s not announced or withdrawn: %s', room, describeError(err))
    })
    this.directoryOps.set(room, next)
    void next.then(() => { if (this.directoryOps.get(room) === next) this.directoryOps.delete(room) })
  }

  /** Sets (or removes) one producer of a watched room, telling its watchers of the change. */
  private update (room: string, producerId: string, listed: Listed | undefined): void {
    const state = this.watched.get(room)
    if (state === undefined) return
    const had = state.producers.has(producerId)
    if (listed === undefined) {
      if (!had) return
      state.producers.delete(producerId)
      this.tell(state, { type: 'producerclosed', room, producerId })
    } else {
      state.producers.set(producerId, listed)
      if (!had) this.tell(state, { type: 'newproducer', room, producer: listed.producer })
    }
  }

  private tell (state: WatchedRoom, event: RoomEvent): void {
    for (const listener of state.listeners) {
      try {
        listener(event)
      } catch (err) {
        log.error('a room listener threw: %s', describeError(err))
      }
    }
  }

  /** One poll of a watched room: who has producers in it, and which. */
  private async poll (room: string, state: WatchedRoom): Promise<void> {
    if (state.polling || this.stopped) return
    state.polling = true
    try {
      const self = this.init.localPeerId
      let named: string[] = []
      try {
        named = await this.init.directory.homeProviders(roomDirectoryId(room), MAX_ROOM_PROVIDERS)
      } catch (err) {
        log.debug('homes of room %s not asked: %s', room, describeError(err))
      }
      // The nodes that listed some at the last poll are asked again even if no home names
      // them now (a home that went away, a record not announced again yet).
      const providers = [...new Set([...named, ...state.providers.keys()])].filter((p) => p !== self).slice(0, MAX_ROOM_PROVIDERS)
      const answers = await Promise.all(providers.map(async (peerId) => {
        try {
          return { peerId, producers: (await this.init.ask(peerId, room)).filter((p) => p.appData.room === room) }
        } catch (err) {
          log.debug('%s not asked for room %s: %s', peerId, room, describeError(err))
          return { peerId, producers: undefined }
        }
      }))
      if (this.watched.get(room) !== state) return
      const next = new Map<string, Listed>()
      for (const p of this.localProducers(room)) next.set(p.id, { producer: p, peerId: self })
      const providersNext = new Map<string, number>()
      for (const { peerId, producers } of answers) {
        if (producers === undefined) {
          // One missed answer (a busy moment) does not close a node's producers.
          const missed = (state.providers.get(peerId) ?? MISSED_POLLS_BEFORE_GONE) + 1
          if (missed >= MISSED_POLLS_BEFORE_GONE) continue
          providersNext.set(peerId, missed)
          for (const [id, listed] of state.producers) if (listed.peerId === peerId) next.set(id, listed)
          continue
        }
        if (producers.length > 0) providersNext.set(peerId, 0)
        for (const producer of producers) if (!next.has(producer.id)) next.set(producer.id, { producer, peerId })
      }
      state.providers = providersNext
      for (const id of [...state.producers.keys()]) if (!next.has(id)) this.update(room, id, undefined)
      for (const [id, listed] of next) this.update(room, id, listed)
    } finally {
      state.polling = false
    }
  }
}
