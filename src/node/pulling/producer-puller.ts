// How a producer is found and pulled: the producer itself when it is in the router; a
// local mediasoup pipe from another router of this node; otherwise a pull from the swarm
// by a plan: named candidates first (the cached location; for a restore, the nodes on the
// copy's route), then, for a lookup, the providers in the DHT, each asked in turn,
// following their redirects depth first, until one serves it or the lookup deadline passes.
// A node pulls a producer once: other routers, and pulls of other nodes that this one
// would relay, wait for that pull. Data producers are found and pulled the same way; a
// pull names the kind it wants and never gets the other.
import { setTimeout as delay } from 'node:timers/promises'
import { CapacityError, InvalidStateError, ProducerNotFoundError, ProtocolError, RedirectLimitError, RemoteError, RequestTimeoutError, SwarmError } from '../../errors.js'
import { createLogger, describeError } from '../../logger.js'
import type { IncomingPipes, PullResult } from '../pipes/incoming-pipes.js'
import type { PenaltyReason, ProviderPenalties } from './provider-penalties.js'
import type { RemoteErrorCode } from '../../errors.js'
import type { SpareTransports } from '../pipes/spare-transports.js'
import type { ProducerDirectory } from '../../directory/producer-directory.js'
import { isDataProducer } from '../../media/producer-registry.js'
import type { AnyProducer, ProducerEntry, ProducerRegistry } from '../../media/producer-registry.js'
import type { types as ms } from 'mediasoup'

const log = createLogger('node:pull')

/** Pause between two rounds of asking the DHT for a producer nobody had yet. */
const LOOKUP_ROUND_PAUSE_MS = 200
/** Failures named in a ProducerNotFoundError / CapacityError message. */
const FAILURES_IN_MESSAGE = 5
/**
 * A provider that has not answered a pull within this share of the lookup deadline gets
 * company: the next provider is asked meanwhile (1 s of the default 5 s).
 */
const HEDGES_PER_LOOKUP = 5
/** Error answers to a pull that no node of this version sends to a well-formed pull: the answer is the liar's. */
const GARBAGE_CODES = new Set<RemoteErrorCode>(['bad-message', 'too-large', 'unknown-type'])

/** Timing of one pull of a remote producer (for metrics). */
export interface PullTiming {
  producerId: string
  /** The node it was pulled from. */
  peerId: string
  /** Time spent finding a node that has it (cache or DHT), in ms. */
  lookupMs: number
  /** Total time from the start of the pull to the copy existing here, in ms. */
  totalMs: number
  /** Redirects followed. */
  redirects: number
}

/** Whom a pull from the swarm asks, and how. */
export interface PullPlan {
  /** Peers asked first, in order, each followed through its redirects. */
  candidates: string[]
  /** Then the providers the DHT knows, until the lookup deadline. */
  useDirectory: boolean
  /** Never asked (a node being left, a dead upstream). */
  avoid?: string[]
  /** Asked before each candidate (not the first when `trustFirst`); false skips it: a quick liveness check. */
  probe?: (peerId: string) => Promise<boolean>
  /** The first candidate is known alive (it just told us): no probe. */
  trustFirst?: boolean
  /** This node was recruited by the first candidate to relay (its pull may use the reserve). */
  recruitedBy?: string
  /** A copy in the same router this pull replaces: closed only once the new pipe is ready. */
  replacing?: AnyProducer
  /** The node this pull moves off (draining): sent along, so a full upstream of it makes room. */
  leaving?: string
  /** The producer is a data producer. */
  data?: boolean
}

export interface ProducerPullerInit {
  localPeerId: string
  registry: ProducerRegistry
  directory: ProducerDirectory
  incoming: IncomingPipes
  spares: SpareTransports
  /** The worker a router of this node lives on. */
  workerOf: (router: ms.Router) => ms.Worker | undefined
  /** Adds addresses a redirect gave for a peer, so it can be dialled. */
  learnAddresses: (peerId: string, multiaddrs: string[]) => Promise<void>
  lookupTimeoutMs: number
  maxRedirects: number
  /**
   * Why this node cannot look anything up in the swarm (no peer at all, after the bootstrap
   * dial under way, if any, is over); undefined: it has peers.
   */
  whyAlone: () => Promise<string | undefined>
  /** Throws InvalidStateError once the node stopped. */
  assertRunning: () => void
  onPulled: (timing: PullTiming) => void
  onPullFailed: (failure: { producerId: string, error: Error, totalMs: number }) => void
  /** Unexpected failures of a DHT query (the pull goes on). */
  report: (err: Error) => void
  /** Providers that lied to this node (asked last while penalised). */
  penalties: ProviderPenalties
  /** A provider was penalised (for the log, metrics and events). */
  onPenalised: (penalty: ProviderPenalty) => void
}

/** A provider penalised by a pull of this node: who, in a pull of what, why, and the error that showed it. */
export interface ProviderPenalty {
  peerId: string
  producerId: string
  reason: PenaltyReason
  error: Error
}

export class ProducerPuller {
  /** Pulls from other nodes under way (at most one per producer), by producer id. */
  private readonly underWay = new Map<string, Promise<AnyProducer>>()

  constructor (private readonly init: ProducerPullerInit) {}

  /** True while this node pulls `producerId` from the swarm. */
  isPulling (producerId: string): boolean {
    return this.underWay.has(producerId)
  }

  /** Resolves when the pull of `producerId` under way, if any, is over (either way). */
  async settled (producerId: string): Promise<void> {
    // Its failure is the pull's caller's (and logged there); a waiter only needs it over.
    await this.underWay.get(producerId)?.catch(() => {})
  }

  /**
   * The producer (`data`: the data producer) in `router`, made there when missing.
   * `recruitedBy`: the node that asked this one to relay, pulled from directly (its own
   * copy is the one to relay).
   */
  async locate (producerId: string, router: ms.Router, recruitedBy?: string, data = false): Promise<AnyProducer> {
    const { registry } = this.init
    const here = registry.inRouter(producerId, router)
    if (here !== undefined) return this.ofKind(here, data).producer
    const local = registry.entries(producerId)[0]
    if (local !== undefined) return await this.pipeBetweenLocalRouters(this.ofKind(local, data).router, router, producerId, data)
    const underWay = this.underWay.get(producerId)
    if (underWay !== undefined) {
      await this.settled(producerId)
      return await this.locate(producerId, router, recruitedBy, data)
    }
    const first = recruitedBy ?? this.init.directory.cachedLocation(producerId)
    return await this.pullOnce(producerId, router, {
      candidates: first === undefined ? [] : [first],
      useDirectory: recruitedBy === undefined,
      recruitedBy,
      data
    })
  }

  /** `entry` when it is of the kind asked for: an id of the other kind is not found. */
  private ofKind (entry: ProducerEntry, data: boolean): ProducerEntry {
    if (isDataProducer(entry.producer) !== data) {
      throw new ProducerNotFoundError(entry.producer.id, data ? 'it is a media producer, not a data producer' : 'it is a data producer, not a media producer')
    }
    return entry
  }

  /**
   * Pulls `producerId` into `router` by `plan`, even if a copy of it is still here
   * (`plan.replacing`: a move) or closing; waits for a pull under way first.
   */
  async pullBy (producerId: string, router: ms.Router, plan: PullPlan): Promise<AnyProducer> {
    await this.settled(producerId)
    const here = this.init.registry.inRouter(producerId, router)
    if (here !== undefined && here.producer !== plan.replacing) return here.producer
    return await this.pullOnce(producerId, router, plan)
  }

  private async pullOnce (producerId: string, router: ms.Router, plan: PullPlan): Promise<AnyProducer> {
    const started = performance.now()
    const pull = this.pullFromSwarm(producerId, router, plan)
      .catch((err: Error) => {
        log.debug('pull of %s failed: %s', producerId, describeError(err))
        this.init.onPullFailed({ producerId, error: err, totalMs: performance.now() - started })
        throw err
      })
      .finally(() => this.underWay.delete(producerId))
    this.underWay.set(producerId, pull)
    return await pull
  }

  private async pipeBetweenLocalRouters (from: ms.Router, to: ms.Router, producerId: string, data: boolean): Promise<AnyProducer> {
    // mediasoup allows one producer id per worker.
    const toWorker = this.init.workerOf(to)
    if (this.init.registry.entries(producerId).some((e) => this.init.workerOf(e.router) === toWorker)) {
      throw new InvalidStateError(`producer ${producerId} is already in another router of the same worker; consume it there`)
    }
    const done = this.init.registry.expectCopy(to, producerId)
    try {
      if (data) {
        const { pipeDataProducer } = await from.pipeToRouter({ dataProducerId: producerId, router: to })
        if (pipeDataProducer === undefined) throw new InvalidStateError(`mediasoup piped no data producer ${producerId} to router ${to.id}`)
        return pipeDataProducer
      }
      const { pipeProducer } = await from.pipeToRouter({ producerId, router: to, enableRtx: true })
      if (pipeProducer === undefined) throw new InvalidStateError(`mediasoup piped no producer ${producerId} to router ${to.id}`)
      return pipeProducer
    } finally {
      done()
    }
  }

  private async pullFromSwarm (producerId: string, router: ms.Router, plan: PullPlan): Promise<AnyProducer> {
    const { directory, incoming, localPeerId, maxRedirects, penalties } = this.init
    const { recruitedBy, replacing, leaving, data = false } = plan
    const avoid = new Set(plan.avoid)
    const deadline = AbortSignal.timeout(this.init.lookupTimeoutMs)
    const started = performance.now()
    // The transport a new pipe would start from is made while the lookup runs.
    this.init.spares.prepare(router)
    let lookupMs: number | undefined
    const failures: string[] = []
    const refusals = { capacity: 0, hopLimit: 0 }
    let tried = new Set<string>()
    /** Peers that said they do not have it, or did not answer, in this pull. */
    const lacking = new Set<string>()
    // The copy made by one of the hedged attempts (below), or the error that ended one.
    let won: AnyProducer | undefined
    let fatal: Error | undefined
    const penalise = (peerId: string, reason: PenaltyReason, err: Error): void => {
      if (peerId === localPeerId) return
      penalties.penalise(peerId, reason)
      this.init.onPenalised({ peerId, producerId, reason, error: err })
    }
    // Asks `peerId`, then follows its redirects depth first, up to maxRedirects hops.
    // `claimant`: who said `peerId` has the producer (itself when it announced it, the
    // redirecting node for a redirect's candidate; none for this node's own guesses): a
    // not-found or no answer is held against the claimant, never against a node another
    // one named, so a liar cannot get honest nodes penalised by naming them.
    const tryPeer = async (peerId: string, hops: number, claimant: string | undefined): Promise<AnyProducer | undefined> => {
      if (tried.has(peerId) || avoid.has(peerId) || peerId === localPeerId) return undefined
      tried.add(peerId)
      lookupMs ??= performance.now() - started
      let result: PullResult
      try {
        result = await incoming.pull(peerId, producerId, router, { recruited: recruitedBy === peerId, replacing, leaving, data })
      } catch (err) {
        // This node stopped or its router closed: nobody lied.
        this.init.assertRunning()
        if (router.closed) throw err
        const reason = failureOf(err as Error)
        if (reason === undefined) throw err
        // mediasoup refused the copy because a parallel attempt made it first: nobody lied.
        if (!(err instanceof SwarmError) && (won !== undefined || this.init.registry.inRouter(producerId, router) !== undefined)) return undefined
        if (err instanceof RemoteError && err.code === 'capacity') refusals.capacity++
        directory.forget(producerId, peerId)
        log.debug('pull of %s from %s: %s', producerId, peerId, (err as Error).message)
        const code = err instanceof RemoteError ? err.code : reason
        // Refused for this node's media address: a setting here to fix, so say which.
        failures.push(code === 'forbidden'
          ? `${peerId}: forbidden (${(err as Error).message.replace(/^peer \S+ answered forbidden: /, '')}: this node's media IP must be an address it connects from, see pipeListenIp / pipeAnnouncedIp, --media-ip / --media-announced-ip)`
          : `${peerId}: ${code}`)
        if (reason === 'timeout' || reason === 'not-found') lacking.add(peerId)
        const blamed = reason === 'garbage' ? peerId : reason === 'timeout' || reason === 'not-found' ? claimant : undefined
        if (blamed !== undefined) penalise(blamed, blamed === peerId ? reason as PenaltyReason : 'redirect', err as Error)
        return undefined
      }
      if ('producer' in result) {
        directory.remember(producerId, peerId)
        log.debug('pulled producer %s from %s in %d ms (found in %d ms, %d redirects)', producerId, peerId, Math.round(performance.now() - started), Math.round(lookupMs ?? 0), hops)
        this.init.onPulled({ producerId, peerId, lookupMs, totalMs: performance.now() - started, redirects: hops })
        return result.producer
      }
      if (hops >= maxRedirects) {
        refusals.hopLimit++
        return undefined
      }
      // Candidates penalised here are asked after the others.
      const candidates = [...result.redirect.candidates].sort((a, b) => Number(penalties.isPenalised(a.peerId)) - Number(penalties.isPenalised(b.peerId)))
      for (const candidate of candidates) {
        // A candidate known not to have it (this node, or one that said so in this pull): the redirect was false.
        if (candidate.peerId === localPeerId || lacking.has(candidate.peerId)) {
          penalise(peerId, 'redirect', new RemoteError(peerId, 'not-found', `redirected the pull of ${producerId} to ${candidate.peerId}, which does not have it`))
          continue
        }
        await this.init.learnAddresses(candidate.peerId, candidate.multiaddrs)
        const producer = await tryPeer(candidate.peerId, hops + 1, peerId)
        if (producer !== undefined) return producer
      }
      return undefined
    }
    for (const [i, candidate] of plan.candidates.entries()) {
      if (deadline.aborted) break
      if (plan.probe !== undefined && !(i === 0 && plan.trustFirst === true) && !avoid.has(candidate) && !tried.has(candidate)) {
        if (!await plan.probe(candidate)) {
          failures.push(`${candidate}: no answer to a ping`)
          continue
        }
      }
      const producer = await tryPeer(candidate, 0, undefined)
      if (producer !== undefined) return producer
    }
    // Providers from the directory are asked one after another, but one that has not
    // answered within a hedge period gets company: the next is asked meanwhile (a liar
    // that never answers must not use up the lookup deadline). The first copy made wins;
    // a later pull-ok of the same producer fails at the copy (one id per router) and is
    // released.
    const hedgeMs = this.init.lookupTimeoutMs / HEDGES_PER_LOOKUP
    const running = new Set<Promise<AnyProducer | undefined>>()
    const ask = async (peerId: string): Promise<void> => {
      const attempt = tryPeer(peerId, 0, peerId)
      running.add(attempt)
      attempt.then((producer) => { won ??= producer }, (err: Error) => { fatal ??= err }).finally(() => running.delete(attempt))
      const hedge = new AbortController()
      await Promise.race([attempt.catch(() => {}), delay(hedgeMs, undefined, { signal: hedge.signal }).catch(() => {})])
      hedge.abort()
    }
    const outcome = (): AnyProducer | undefined => {
      if (fatal !== undefined) throw fatal
      return won
    }
    if (plan.useDirectory) {
      // Alone, a lookup can only wait out its deadline: say why at once instead.
      const alone = await this.init.whyAlone()
      if (alone !== undefined) throw new ProducerNotFoundError(producerId, failures.length > 0 ? `${alone}; tried ${failures.join(', ')}` : alone)
    }
    while (!deadline.aborted && plan.useDirectory) {
      this.init.assertRunning()
      const deferred: string[] = []
      try {
        for await (const peerId of directory.findProviders(producerId, deadline, avoid)) {
          if (penalties.isPenalised(peerId)) {
            deferred.push(peerId)
            continue
          }
          await ask(peerId)
          if (outcome() !== undefined) return won!
        }
        for (const peerId of deferred) {
          if (deadline.aborted) break
          await ask(peerId)
          if (outcome() !== undefined) return won!
        }
      } catch (err) {
        if (err === fatal) throw err
        if (deadline.aborted || err instanceof SwarmError) log.trace('lookup round of %s ended: %s', producerId, describeError(err))
        else this.init.report(err as Error)
      }
      // Attempts still under way may yet make the copy.
      while (running.size > 0 && outcome() === undefined) await Promise.race([...running].map(async (p) => await p.catch(() => {})))
      if (outcome() !== undefined) return won!
      // Nodes that have it said no: that answer stands. Otherwise it may not be announced yet.
      if (refusals.capacity > 0 || refusals.hopLimit > 0) break
      tried = new Set()
      await delay(LOOKUP_ROUND_PAUSE_MS)
    }
    const detail = failures.length > 0
      ? `tried ${failures.slice(-FAILURES_IN_MESSAGE).join(', ')}`
      : `no node announced it (no provider record found within ${this.init.lookupTimeoutMs} ms)`
    if (refusals.capacity > 0) throw new CapacityError(producerId, detail)
    if (refusals.hopLimit > 0) throw new RedirectLimitError(producerId, maxRedirects)
    throw new ProducerNotFoundError(producerId, detail)
  }
}

/**
 * What a failed pull attempt says about the peer asked: a PenaltyReason when it may have
 * lied, `other` for an honest refusal (full, busy, a loop, unreachable), undefined for an
 * error that is this node's own (rethrown).
 */
function failureOf (err: Error): PenaltyReason | 'other' | undefined {
  if (err instanceof RequestTimeoutError) return 'timeout'
  if (err instanceof ProtocolError) return 'garbage'
  if (err instanceof RemoteError) {
    if (err.code === 'not-found') return 'not-found'
    return GARBAGE_CODES.has(err.code) ? 'garbage' : 'other'
  }
  if (err instanceof SwarmError) return undefined
  // mediasoup refused what the answer carried (its parameters or its pipe's address).
  return 'garbage'
}
