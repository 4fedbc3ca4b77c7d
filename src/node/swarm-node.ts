// SwarmNode: a mediasoup SFU node that is a member of a libp2p swarm. Composes the host
// (p2p/), the producer directory (directory/), the wire protocol (protocol/) and the media
// side (media/), and owns their lifecycle.
import { EventEmitter } from 'node:events'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CapacityError, InvalidStateError, ProducerNotFoundError, RedirectLimitError, RemoteError, RequestTimeoutError, SwarmError } from '../errors.js'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { Admission } from '../placement/admission.js'
import { LoadTracker } from '../placement/capacity.js'
import { ProducerDirectory } from '../directory/producer-directory.js'
import { WorkerPool } from '../media/worker-pool.js'
import { ProducerRegistry } from '../media/producer-registry.js'
import { BootstrapKeeper } from '../p2p/bootstrap-keeper.js'
import { PeerMonitor } from '../p2p/peer-monitor.js'
import { createHost } from '../p2p/host.js'
import { loadOrCreateIdentity } from '../p2p/identity.js'
import { loadSwarmKey } from '../p2p/swarm-key.js'
import { MAX_RTTS, pipeProtocolId } from '../protocol/messages.js'
import { request, serve } from '../protocol/rpc.js'
import { resolveOptions } from './options.js'
import { PipeService } from './pipe-service.js'
import type { Host } from '../p2p/host.js'
import type { PrivateKey } from '@libp2p/interface'
import type { ErrorCode, Load, Request, Response, StatusOk } from '../protocol/messages.js'
import type { ResolvedOptions, SwarmNodeOptions } from './options.js'
import type { RequestOptions } from '../protocol/rpc.js'
import type { types as ms } from 'mediasoup'

/**
 * Deadlines per request type, in units of `timeouts.request`. Answering a pull may take two
 * status rounds (relays below, then peers to recruit: 0.5 each) and recruit attempts (1 in
 * all), or waiting for the answering relay's own pull; so a pull waits longest.
 */
const DEADLINE_FACTOR: Record<Request['type'], number> = {
  pull: 2.5, recruit: 1, status: 0.5, 'connect-pipe': 1, 'producer-event': 1, release: 1, 'close-pipe': 1
}

/** A node without connections dials its bootstrap addresses again after about 1 s, 2 s, 4 s… at most 30 s. */
const BOOTSTRAP_RETRY_FIRST_MS = 1000
const BOOTSTRAP_RETRY_LAST_MS = 30_000

/** A peer that misses this many pings in a row (one per `timeouts.ping`) is given up. */
const PING_FAILURES_BEFORE_CLOSE = 2

/** How long a node waits before announcing a copy it received (see the 'add' listener). */
const COPY_ANNOUNCE_DELAY_MS = 500

export interface PipeToRouterOptions {
  /** Id of a producer anywhere in the swarm. */
  producerId: string
  /** A router created with this node's createRouter(). */
  router: ms.Router
}

export interface PipeToRouterResult {
  /** The producer with that id in `router` (the original when it was already there). */
  pipeProducer: ms.Producer
}

/** How a producer this node has reaches it, and where it goes on to. */
export interface Distribution {
  producerId: string
  /** Peer id of the node where the producer was created. */
  origin: string
  /** The node this one receives it from; null on the origin and for local copies of it. */
  upstream: string | null
  /** Peer ids from the origin to this node, both included. */
  route: string[]
  /** Nodes this one sends it to. */
  downstream: string[]
  /** Last load each downstream node reported (scaling points), when known. */
  downstreamLoad: Record<string, Load>
  /** This node's load and capacity (scaling points). */
  load: number
  capacity: number
}

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

export interface SwarmNodeEvents {
  /** A router was created with createRouter() (or for relaying). */
  newrouter: [ms.Router]
  /** A remote producer was pulled into this node. */
  pulled: [PullTiming]
  /** A pull of a remote producer failed (the error pipeToRouter() rejects with). */
  pullfailed: [{ producerId: string, error: Error, totalMs: number }]
  /** The upstream or the downstream nodes of a producer changed (see getDistribution()). */
  distributionchange: [string]
  /** Something went wrong in the background (a notification that could not be sent…). */
  error: [Error]
  /** A mediasoup worker died; the node stops. */
  workerdied: [Error]
}

/** Counters of bad input received from the network, by error code. */
export type ProtocolErrorCounts = Partial<Record<ErrorCode, number>>

/** Counters of requests received from other nodes, by type (docs/protocol.md). */
export type RequestCounts = Partial<Record<Request['type'], number>>

export async function createSwarmNode (options: SwarmNodeOptions = {}): Promise<SwarmNode> {
  const resolved = resolveOptions(options)
  const privateKey = resolved.identityFile === undefined ? await generateKeyPair('Ed25519') : await loadOrCreateIdentity(resolved.identityFile)
  const swarmKey = resolved.swarmKeyFile === undefined ? undefined : await loadSwarmKey(resolved.swarmKeyFile)
  const node = new SwarmNode(resolved)
  await node.start(privateKey, swarmKey)
  return node
}

export class SwarmNode extends EventEmitter<SwarmNodeEvents> {
  private host!: Host
  private workerPool!: WorkerPool
  private directory!: ProducerDirectory
  private keeper?: BootstrapKeeper
  private monitor?: PeerMonitor
  private pipes!: PipeService
  private readonly registry = new ProducerRegistry()
  private readonly routerById = new Map<string, ms.Router>()
  /** pipeToRouter() calls under way, by `${routerId}/${producerId}`. */
  private readonly pulls = new Map<string, Promise<ms.Producer>>()
  /** Pulls from other nodes under way (at most one per producer), by producer id. */
  private readonly remotePulls = new Map<string, Promise<ms.Producer>>()
  private readonly protocolErrors: ProtocolErrorCounts = {}
  private readonly requestsReceived: RequestCounts = {}
  private readonly peerLoads = new Map<string, Load>()
  private readonly load: LoadTracker
  private admission!: Admission
  private relayRouter?: Promise<ms.Router>
  private stopped = false
  private readonly protocol: string

  /** @internal use createSwarmNode() */
  constructor (private readonly options: ResolvedOptions) {
    super()
    this.protocol = pipeProtocolId(options.protocolPrefix)
    this.load = new LoadTracker(options.costs, options.capacity)
  }

  /** @internal */
  async start (privateKey: PrivateKey, swarmKey: Uint8Array | undefined): Promise<void> {
    const { timeouts } = this.options
    this.workerPool = await WorkerPool.create(this.options.numWorkers, this.options.workerSettings, (_worker, error) => {
      this.emit('workerdied', error)
      void this.stop()
    })
    try {
      this.host = await createHost({
        privateKey,
        listen: this.options.listen,
        announce: this.options.announce,
        swarmKey,
        protocolPrefix: this.options.protocolPrefix,
        addressPolicy: this.options.addressPolicy,
        providerValidityMs: timeouts.providerValidity,
        reprovideIntervalMs: timeouts.providerValidity / 4,
        dialTimeoutMs: timeouts.dial
      })
    } catch (err) {
      this.workerPool.close()
      throw err
    }
    const onError = (err: Error): void => { this.emit('error', err) }
    this.directory = new ProducerDirectory(this.host, timeouts.announce, onError)
    const send = async (peerId: string, req: Request, options?: RequestOptions): Promise<Exclude<Response, { type: 'error' }>> =>
      await request(this.host, peerId, this.protocol, req, timeouts.request * DEADLINE_FACTOR[req.type], options)
    this.pipes = new PipeService({
      localPeerId: this.host.peerId.toString(),
      registry: this.registry,
      listen: { ip: this.options.pipeListenIp, announcedIp: this.options.pipeAnnouncedIp },
      send,
      pipeConnectTimeoutMs: timeouts.pipeConnect,
      onError,
      canServe: (req, peerId, entry) => {
        this.peerLoads.set(peerId, { load: req.load, capacity: req.capacity })
        return this.admission.canServe(entry.producer, req.recruited)
      },
      redirect: async (req, peerId, entry) => await this.admission.redirect(req, peerId, entry.producer),
      routeOf: (producerId) => this.routeOf(producerId),
      localLoad: () => ({ load: this.load.load, capacity: this.load.capacity }),
      holdLoad: (kind) => this.load.hold(this.admission.pipeCost(kind)),
      rtts: () => this.monitor?.rtts(MAX_RTTS) ?? {},
      onDistributionChange: (producerId) => this.emit('distributionchange', producerId)
    })
    this.admission = new Admission({
      load: this.load,
      costs: this.options.costs,
      fanout: this.options.fanout,
      reserve: this.options.recruitReserve,
      downstreamOf: (producerId) => this.pipes.downstreamOf(producerId),
      routeOf: (producerId) => this.routeOf(producerId),
      peers: () => this.peers,
      multiaddrsOf: async (peerId) => await this.host.peerStore.get(peerIdFromString(peerId))
        .then((p) => p.addresses.map((a) => a.multiaddr.toString()), () => []),
      status: async (peerId, producerId) => {
        const answer = await send(peerId, { type: 'status', producerId })
        if (answer.type !== 'status-ok') throw new RemoteError(peerId, 'bad-message', 'status answered with something else')
        this.peerLoads.set(peerId, { load: answer.load, capacity: answer.capacity })
        return answer
      },
      recruit: async (peerId, producerId, timeoutMs) => {
        await request(this.host, peerId, this.protocol, { type: 'recruit', producerId }, timeoutMs)
      },
      recruitBudgetMs: timeouts.request * DEADLINE_FACTOR.recruit
    })
    // Copies are announced too: a node that receives a producer serves it as a relay. Their
    // announcement waits a moment, so it does not compete with the pull's own set-up.
    this.registry.on('add', ({ producer, isCopy }) => {
      if (!isCopy) {
        void this.directory.announce(producer.id)
        return
      }
      setTimeout(() => { if (!producer.closed && !this.stopped) void this.directory.announce(producer.id) }, COPY_ANNOUNCE_DELAY_MS).unref()
    })
    this.registry.on('remove', ({ producer }) => {
      if (this.registry.entries(producer.id).length === 0) void this.directory.withdraw(producer.id)
    })
    this.host.addEventListener('peer:disconnect', (event) => {
      const peerId = event.detail.toString()
      this.directory.forgetPeer(peerId)
      this.pipes.closePeer(peerId)
    })
    await serve(this.host, this.protocol, async (req, peerId) => await this.handle(req, peerId), (code) => {
      this.protocolErrors[code] = (this.protocolErrors[code] ?? 0) + 1
    })
    await this.host.start()
    this.keeper = new BootstrapKeeper(this.host, {
      addresses: this.options.bootstrap,
      dialTimeoutMs: timeouts.dial,
      minDelayMs: BOOTSTRAP_RETRY_FIRST_MS,
      maxDelayMs: BOOTSTRAP_RETRY_LAST_MS,
      onFailure: onError
    })
    this.keeper.start()
    this.monitor = new PeerMonitor(this.host, { intervalMs: timeouts.ping, failuresBeforeClose: PING_FAILURES_BEFORE_CLOSE })
    this.monitor.start()
  }

  /** This node's libp2p peer id. */
  get peerId (): string {
    return this.host.peerId.toString()
  }

  /** Addresses (with /p2p/<peerId>) another node can use as its bootstrap. */
  get multiaddrs (): string[] {
    return this.host.getMultiaddrs().map((ma) => ma.toString())
  }

  /** Peer ids of the nodes this one is connected to. */
  get peers (): string[] {
    return this.host.getPeers().map((p) => p.toString())
  }

  /** Bad messages received from the network so far, by error code. */
  get protocolErrorCounts (): ProtocolErrorCounts {
    return { ...this.protocolErrors }
  }

  /** Valid requests received from other nodes so far, by type. */
  get requestCounts (): RequestCounts {
    return { ...this.requestsReceived }
  }

  /** Pipe counts, for monitoring and tests. */
  get pipeStats (): ReturnType<PipeService['stats']> {
    return this.pipes.stats()
  }

  /** The libp2p host (advanced use: extra protocols, metrics). */
  get libp2p (): Host {
    return this.host
  }

  /**
   * Creates a mediasoup Router on the least loaded worker. Producers created on its
   * transports are announced in the swarm and withdrawn when closed.
   */
  async createRouter (options: ms.RouterOptions = {}): Promise<ms.Router> {
    this.assertRunning()
    const router = await this.workerPool.createRouter(options)
    this.routerById.set(router.id, router)
    router.observer.once('close', () => this.routerById.delete(router.id))
    this.registry.track(router)
    this.load.track(router)
    this.emit('newrouter', router)
    return router
  }

  /**
   * Creates a mediasoup WebRtcServer on the worker of `router` (WebRtcTransports of that
   * router can then share its ports). Close its transports before closing it: mediasoup
   * 3.13 aborts the worker otherwise.
   */
  async createWebRtcServer (options: ms.WebRtcServerOptions, router: ms.Router): Promise<ms.WebRtcServer> {
    this.assertRunning()
    const worker = this.routerById.get(router.id) === router ? this.workerPool.workerOf(router) : undefined
    if (worker === undefined) throw new TypeError('router must be a router created by this node')
    return await worker.createWebRtcServer(options)
  }

  /** Producers (created here or copies) in one of this node's routers. */
  producersIn (router: ms.Router): ms.Producer[] {
    return this.registry.all().filter((e) => e.router === router).map((e) => e.producer)
  }

  /** The node's mediasoup workers (resource usage, advanced use); they close with the node. */
  workers (): ms.Worker[] {
    return [...this.workerPool.workers]
  }

  /** The open routers of this node. */
  routers (): ms.Router[] {
    return [...this.routerById.values()]
  }

  /** Ids of every producer this node has (created here or copies), in any of its routers. */
  producerIds (): string[] {
    return [...new Set(this.registry.all().map((e) => e.producer.id))]
  }

  /** This node's load and capacity in scaling points. */
  get capacity (): Load & { spare: number } {
    return { load: this.load.load, capacity: this.load.capacity, spare: this.load.spare }
  }

  /**
   * How the producer reaches this node and where it goes on to; undefined when this node
   * does not have it.
   */
  getDistribution (producerId: string): Distribution | undefined {
    if (this.registry.entries(producerId).length === 0) return undefined
    const route = this.routeOf(producerId)
    const downstream = this.pipes.downstreamOf(producerId)
    const downstreamLoad: Record<string, Load> = {}
    for (const peerId of downstream) {
      const load = this.peerLoads.get(peerId)
      if (load !== undefined) downstreamLoad[peerId] = load
    }
    return {
      producerId,
      origin: route[0] ?? this.peerId,
      upstream: this.pipes.upstreamOf(producerId)?.peerId ?? null,
      route,
      downstream,
      downstreamLoad,
      load: this.load.load,
      capacity: this.load.capacity
    }
  }

  private routeOf (producerId: string): string[] {
    return [...(this.pipes.upstreamOf(producerId)?.route ?? []), this.peerId]
  }

  /** Round-trip times in ms to connected peers, by peer id: libp2p pings every `timeouts.ping`, smoothed. */
  rtts (): Record<string, number> {
    return this.monitor?.rtts() ?? {}
  }

  /**
   * Makes the producer `producerId` usable in `router`, wherever it lives in the swarm:
   * the producer itself when it is in `router`, mediasoup's pipeToRouter() from another
   * router of this node, otherwise a pipe from the node that has it (found in the DHT).
   * Concurrent calls for one producer share one pull.
   *
   * @throws TypeError bad arguments or a router not created by this node
   * @throws ProducerNotFoundError nobody has it within `timeouts.lookup`
   * @throws InvalidStateError node stopped; or the router's worker already has the id in another router
   */
  async pipeToRouter ({ producerId, router }: PipeToRouterOptions): Promise<PipeToRouterResult> {
    this.assertRunning()
    if (typeof producerId !== 'string' || producerId.length === 0) throw new TypeError('producerId must be a non-empty string')
    if (router === undefined || this.routerById.get(router.id) !== router) throw new TypeError('router must be a router created by this node')
    if (router.closed) throw new InvalidStateError('router is closed')

    const key = `${router.id}/${producerId}`
    let pending = this.pulls.get(key)
    if (pending === undefined) {
      pending = this.locate(producerId, router).finally(() => this.pulls.delete(key))
      this.pulls.set(key, pending)
    }
    return { pipeProducer: await pending }
  }

  private async locate (producerId: string, router: ms.Router, recruitedBy?: string): Promise<ms.Producer> {
    const here = this.registry.inRouter(producerId, router)
    if (here !== undefined) return here.producer
    const local = this.registry.entries(producerId)[0]
    if (local !== undefined) return await this.pipeBetweenLocalRouters(local.router, router, producerId)
    // Pull once per node: a call for another router waits for the pull under way, then pipes locally.
    const underWay = this.remotePulls.get(producerId)
    if (underWay !== undefined) {
      await underWay.catch(() => {})
      return await this.locate(producerId, router, recruitedBy)
    }
    const started = performance.now()
    const pull = this.pullFromSwarm(producerId, router, recruitedBy)
      .catch((err: Error) => {
        this.emit('pullfailed', { producerId, error: err, totalMs: performance.now() - started })
        throw err
      })
      .finally(() => this.remotePulls.delete(producerId))
    this.remotePulls.set(producerId, pull)
    return await pull
  }

  private async pipeBetweenLocalRouters (from: ms.Router, to: ms.Router, producerId: string): Promise<ms.Producer> {
    // mediasoup allows one producer id per worker.
    const toWorker = this.workerPool.workerOf(to)
    if (this.registry.entries(producerId).some((e) => this.workerPool.workerOf(e.router) === toWorker)) {
      throw new InvalidStateError(`producer ${producerId} is already in another router of the same worker; consume it there`)
    }
    const done = this.registry.expectCopy(to, producerId)
    try {
      const { pipeProducer } = await from.pipeToRouter({ producerId, router: to, enableRtx: true })
      if (pipeProducer === undefined) throw new InvalidStateError('mediasoup pipeToRouter returned no producer')
      return pipeProducer
    } finally {
      done()
    }
  }

  private async pullFromSwarm (producerId: string, router: ms.Router, recruitedBy?: string): Promise<ms.Producer> {
    const deadline = AbortSignal.timeout(this.options.timeouts.lookup)
    const started = performance.now()
    // The transport a new pipe would start from is made while the lookup runs.
    this.pipes.prepare(router)
    let lookupMs: number | undefined
    const failures: string[] = []
    const refusals = { capacity: 0, hopLimit: 0 }
    let tried = new Set<string>()
    // Asks `peerId`, then follows its redirects depth first, up to maxRedirects hops.
    const tryPeer = async (peerId: string, hops: number): Promise<ms.Producer | undefined> => {
      if (tried.has(peerId) || peerId === this.peerId) return undefined
      tried.add(peerId)
      lookupMs ??= performance.now() - started
      try {
        const result = await this.pipes.pull(peerId, producerId, router, recruitedBy === peerId)
        if ('producer' in result) {
          this.directory.remember(producerId, peerId)
          this.emit('pulled', { producerId, peerId, lookupMs, totalMs: performance.now() - started, redirects: hops })
          return result.producer
        }
        if (hops >= this.options.maxRedirects) {
          refusals.hopLimit++
          return undefined
        }
        for (const candidate of result.redirect.candidates) {
          await this.learnAddresses(candidate.peerId, candidate.multiaddrs)
          const producer = await tryPeer(candidate.peerId, hops + 1)
          if (producer !== undefined) return producer
        }
        return undefined
      } catch (err) {
        // A stale record, a dead peer, a full node, a peer that broke the protocol: skip it.
        if (!(err instanceof RemoteError || err instanceof RequestTimeoutError)) throw err
        if (err instanceof RemoteError && err.code === 'capacity') refusals.capacity++
        this.directory.forget(producerId, peerId)
        failures.push(`${peerId}: ${err instanceof RemoteError ? err.code : 'timeout'}`)
        return undefined
      }
    }
    const first = recruitedBy ?? this.directory.cachedLocation(producerId)
    if (first !== undefined) {
      const producer = await tryPeer(first, 0)
      if (producer !== undefined) return producer
    }
    while (!deadline.aborted && recruitedBy === undefined) {
      this.assertRunning()
      try {
        for await (const peerId of this.directory.findProviders(producerId, deadline)) {
          const producer = await tryPeer(peerId, 0)
          if (producer !== undefined) return producer
        }
      } catch (err) {
        if (!deadline.aborted && !(err instanceof SwarmError)) this.emit('error', err as Error)
      }
      // Nodes that have it said no: that answer stands. Otherwise it may not be announced yet.
      if (refusals.capacity > 0 || refusals.hopLimit > 0) break
      tried = new Set()
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const detail = failures.length > 0 ? `tried ${failures.slice(-5).join(', ')}` : 'no provider record'
    if (refusals.capacity > 0) throw new CapacityError(producerId, detail)
    if (refusals.hopLimit > 0) throw new RedirectLimitError(producerId, this.options.maxRedirects)
    throw new ProducerNotFoundError(producerId, detail)
  }

  private async learnAddresses (peerId: string, addrs: string[]): Promise<void> {
    if (addrs.length === 0) return
    await this.host.peerStore.merge(peerIdFromString(peerId), { multiaddrs: addrs.map((a) => multiaddr(a)) }).catch(() => {})
  }

  /**
   * The router a recruited relay keeps its copy in: the node's first open router, so that
   * its own clients can consume the copy (mediasoup allows a producer id once per worker:
   * a copy in a router of its own would block the others of that worker); a router of its
   * own (relayMediaCodecs) only on a node that has none.
   */
  private async routerForRelaying (): Promise<ms.Router> {
    const first = this.routers()[0]
    if (first !== undefined) return first
    if (this.relayRouter === undefined) {
      const creating = this.createRouter({ mediaCodecs: this.options.relayMediaCodecs })
      this.relayRouter = creating
      // A failed or closed relay router is made again on the next recruit.
      creating.then((router) => router.observer.once('close', () => { if (this.relayRouter === creating) this.relayRouter = undefined }),
        () => { if (this.relayRouter === creating) this.relayRouter = undefined })
    }
    return await this.relayRouter
  }

  /**
   * Asked by a full node to become a relay: pulls the producer from it, through the same
   * once-per-node gate as pipeToRouter(), so a recruit never makes a second copy beside a
   * pull under way. Answers ok once this node has the copy.
   */
  private async handleRecruit (peerId: string, producerId: string): Promise<Response> {
    const busy = (): boolean => this.registry.entries(producerId).length > 0 || this.remotePulls.has(producerId)
    if (!busy()) {
      if (!this.load.fits(Math.max(this.options.costs.videoPipe, this.options.costs.audioPipe), 0, false)) {
        return { type: 'error', code: 'capacity', message: 'no spare capacity' }
      }
      const router = await this.routerForRelaying()
      if (!busy()) await this.locate(producerId, router, peerId)
    }
    await this.pullUnderWay(producerId)
    if (this.registry.entries(producerId).length === 0) return { type: 'error', code: 'capacity', message: `could not get ${producerId}` }
    return { type: 'ok' }
  }

  private status (producerId: string | undefined): StatusOk {
    return {
      type: 'status-ok',
      has: producerId !== undefined && this.registry.entries(producerId).length > 0,
      pulling: producerId !== undefined && this.remotePulls.has(producerId),
      downstream: producerId === undefined ? 0 : this.pipes.downstreamOf(producerId).length,
      load: this.load.load,
      capacity: this.load.capacity
    }
  }

  private async handle (req: Request, peerId: string): Promise<Response> {
    this.requestsReceived[req.type] = (this.requestsReceived[req.type] ?? 0) + 1
    if (this.stopped) return { type: 'error', code: 'not-found', message: 'node is stopping' }
    try {
      switch (req.type) {
        case 'pull':
          // A relay still pulling the producer answers once its own pull is done.
          if (this.registry.entries(req.producerId).length === 0) await this.pullUnderWay(req.producerId)
          return await this.pipes.handlePull(peerId, req)
        case 'status': return this.status(req.producerId)
        case 'recruit': return await this.handleRecruit(peerId, req.producerId)
        case 'connect-pipe': return await this.pipes.handleConnect(peerId, req.pipeId, req.remote)
        case 'release': return this.pipes.handleRelease(peerId, req.pipeId, req.producerId)
        case 'producer-event': return this.pipes.handleProducerEvent(peerId, req.pipeId, req.producerId, req.event)
        case 'close-pipe': return this.pipes.handleClosePipe(peerId, req.pipeId)
      }
    } catch (err) {
      if (err instanceof CapacityError) return { type: 'error', code: 'capacity', message: err.message }
      if (err instanceof SwarmError) return { type: 'error', code: 'not-found', message: err.message }
      this.emit('error', err as Error)
      return { type: 'error', code: 'internal', message: (err as Error).message }
    }
  }

  private async pullUnderWay (producerId: string): Promise<void> {
    await this.remotePulls.get(producerId)?.catch(() => {})
  }

  /** Closes pipes (telling peers), leaves the swarm and closes the workers. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.keeper?.stop()
    this.monitor?.stop()
    this.directory?.stop()
    await this.pipes?.closeAll()
    await this.host?.stop()
    this.workerPool?.close()
  }

  private assertRunning (): void {
    if (this.stopped) throw new InvalidStateError('node is stopped')
  }

  /** @internal EventEmitter listeners must not break the node. */
  override emit<K extends keyof SwarmNodeEvents>(event: K, ...args: SwarmNodeEvents[K]): boolean {
    if (event === 'error' && this.listenerCount('error') === 0) return false
    try {
      return super.emit(event, ...(args as never))
    } catch {
      return true
    }
  }
}
