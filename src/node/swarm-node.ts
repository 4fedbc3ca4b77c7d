// SwarmNode: a mediasoup SFU node that is a member of a libp2p swarm. It composes the
// parts and owns their lifecycle:
//   p2p/ (host, bootstrap keeper, peer monitor)   directory/ (producer id → providers)
//   media/ (workers, producer registry)            placement/ (delegation policy)
//   pipes/ (both ends of cross-node pipes)         pulling/ (find and pull a producer)
//   serving/ (answer pulls, be recruited, drain)   handlers/ (one per wire request type)
//   healing/ (restore copies whose path broke, detect frozen upstreams)
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidStateError, ProducerNotFoundError, RemoteError } from '../errors.js'
import { createLogger, describeError } from '../logger.js'
import { ProducerDirectory } from '../directory/producer-directory.js'
import { pipePeerTags } from '../p2p/peer-tags.js'
import { ProducerRegistry, isDataProducer } from '../media/producer-registry.js'
import { WorkerPool } from '../media/worker-pool.js'
import { BootstrapKeeper } from '../p2p/bootstrap-keeper.js'
import { createHost, startHost } from '../p2p/host.js'
import { loadOrCreateIdentity } from '../p2p/identity.js'
import { remoteIpsOf } from '../p2p/peer-addresses.js'
import { pingPeer } from '../p2p/liveness-ping.js'
import { PeerGate } from '../p2p/peer-gate.js'
import { PeerMonitor } from '../p2p/peer-monitor.js'
import { agentVersionOf, PeerNames } from '../p2p/peer-names.js'
import { loadSwarmKey } from '../p2p/swarm-key.js'
import { LoadTracker } from '../placement/capacity.js'
import { DelegationPolicy } from '../placement/delegation-policy.js'
import { MAX_RTTS, PROTOCOL_VERSION, pipeProtocolId } from '../protocol/messages.js'
import { request, serve } from '../protocol/rpc.js'
import {
  BOOTSTRAP_RETRY_FIRST_MS, BOOTSTRAP_RETRY_LAST_MS, COPY_ANNOUNCE_DELAY_MS, DEADLINE_FACTOR, GIVEN_UP_QUARANTINE_MS, NO_PIPE_BYTES_WARNING_MS, PING_FAILURES_BEFORE_CLOSE,
  TREE_MAX_DEPTH, TREE_MAX_NODES, TREE_TIMEOUT_MS
} from './constants.js'
import { SafeEmitter } from './events.js'
import { dispatcher } from './handlers/index.js'
import { healthReport, readinessReport } from './health.js'
import { handlerTable } from './handlers/table.js'
import { treeAnswer } from './handlers/tree.js'
import { gatherTree } from './tree/producer-tree.js'
import { CopyRepair } from './healing/copy-repair.js'
import { UpstreamWatch } from './healing/upstream-watch.js'
import { PEER_REFUSALS, peerIdArray, resolveOptions } from './options.js'
import { IncomingPipes } from './pipes/incoming-pipes.js'
import { MediaAddressCheck } from './pipes/media-address.js'
import { Notices } from './pipes/notices.js'
import { OutgoingPipes } from './pipes/outgoing-pipes.js'
import { SpareTransports } from './pipes/spare-transports.js'
import { ProducerPuller } from './pulling/producer-puller.js'
import { PENALTY_MS, ProviderPenalties } from './pulling/provider-penalties.js'
import { Drain } from './serving/drain.js'
import { Rooms } from './rooms/rooms.js'
import { PullServer } from './serving/pull-server.js'
import { RelayRecruits } from './serving/relay-recruits.js'
import type { DrainOptions, DrainResult } from './serving/drain.js'
import type { RoomEvent, RoomWatch } from './rooms/rooms.js'
import type { HealthCheckName, HealthInputs, HealthReport, ReadinessCheckName } from './health.js'
import type { PeerRefusal, ResolvedOptions, SwarmNodeOptions } from './options.js'
import type { Send } from './pipes/notices.js'
import type { TreeAnswerInit } from './handlers/tree.js'
import type { TreePipeFigures, ProducerTree, TreeBounds } from './tree/producer-tree.js'
import type { Host } from '../p2p/host.js'
import type { RefusalReason } from '../p2p/peer-gate.js'
import type { Load } from '../protocol/messages.js'
import type { AnyProducer } from '../media/producer-registry.js'
import type { PenaltyReason } from './pulling/provider-penalties.js'
import type { Distribution, Occupancy, PipeDataToRouterOptions, PipeDataToRouterResult, PipeStats, PipeStream, PipeToRouterOptions, PipeToRouterResult, ProtocolErrorCounts, RequestCounts } from './types.js'
import type { PrivateKey } from '@libp2p/interface'
import type { types as ms } from 'mediasoup'

const log = createLogger('node')

export async function createSwarmNode (options: SwarmNodeOptions = {}): Promise<SwarmNode> {
  const resolved = resolveOptions(options)
  const privateKey = resolved.identityFile === undefined ? await generateKeyPair('Ed25519') : await loadOrCreateIdentity(resolved.identityFile)
  const swarmKey = resolved.swarmKeyFile === undefined ? undefined : await loadSwarmKey(resolved.swarmKeyFile)
  const node = new SwarmNode(resolved)
  try {
    await node.start(privateKey, swarmKey)
  } catch (err) {
    await node.stop()
    throw err
  }
  return node
}

export class SwarmNode extends SafeEmitter {
  private host!: Host
  private workerPool?: WorkerPool
  private directory?: ProducerDirectory
  private keeper?: BootstrapKeeper
  private monitor?: PeerMonitor
  private watch?: UpstreamWatch
  private drainer?: Drain
  private spares?: SpareTransports
  private notices?: Notices
  private rooms?: Rooms
  private outgoing!: OutgoingPipes
  private incoming!: IncomingPipes
  private puller!: ProducerPuller
  private readonly registry = new ProducerRegistry()
  private readonly routerById = new Map<string, ms.Router>()
  /** pipeToRouter() calls under way, by router then producer id (media and data alike: one id space). */
  private readonly calls = new Map<ms.Router, Map<string, Promise<AnyProducer>>>()
  private readonly protocolErrors: ProtocolErrorCounts = {}
  private readonly requestsReceived: RequestCounts = {}
  private readonly peerRefusals = Object.fromEntries(PEER_REFUSALS.map((r) => [r, 0])) as Record<PeerRefusal, number>
  private readonly peerLoads = new Map<string, Load>()
  private readonly penalties = new ProviderPenalties()
  private readonly gate: PeerGate
  private readonly load: LoadTracker
  private started = false
  private stopped = false
  private readonly protocol: string
  private names?: PeerNames
  private treeInit?: TreeAnswerInit
  private pipeFigures?: () => TreePipeFigures[] | undefined

  /** @internal use createSwarmNode() */
  constructor (private readonly options: ResolvedOptions) {
    super()
    this.protocol = pipeProtocolId(options.protocolPrefix)
    this.load = new LoadTracker(options.costs, options.capacity)
    this.gate = new PeerGate({
      allowPeers: options.allowPeers,
      alwaysAllowed: options.bootstrap.flatMap((a) => multiaddr(a).getComponents().filter((c) => c.name === 'p2p').map((c) => c.value!)),
      pendingInboundPerIp: options.connectionLimits.pendingInboundPerIp,
      inboundPerIpPerSecond: options.connectionLimits.inboundPerIpPerSecond,
      perPeer: options.connectionLimits.perPeer
    })
  }

  /** @internal */
  async start (privateKey: PrivateKey, swarmKey: Uint8Array | undefined): Promise<void> {
    const { options } = this
    const { timeouts } = options
    this.workerPool = await WorkerPool.create(options.numWorkers, options.workerSettings, {
      onDied: (_worker, error) => { this.emit('workerdied', error) },
      onReplaced: (worker) => { this.emit('newworker', worker) },
      onAllDied: () => {
        log.error('no mediasoup worker left: stopping')
        void this.stop()
      }
    })
    const gater = this.gate.gater()
    this.host = await createHost({
      privateKey,
      listen: options.listen,
      announce: options.announce,
      swarmKey,
      protocolPrefix: options.protocolPrefix,
      addressPolicy: options.addressPolicy,
      providerValidityMs: timeouts.dhtRecordValidity,
      reprovideIntervalMs: timeouts.dhtRecordValidity / 2,
      dialTimeoutMs: timeouts.dial,
      maxConnections: options.maxConnections,
      // Tells the bootstrap keeper how far each dial got, so that it can say where one failed.
      gater: {
        ...gater,
        denyOutboundConnection: (_peerId, maConn) => {
          this.keeper?.noteStage(maConn.remoteAddr, 'connected')
          return false
        },
        denyOutboundEncryptedConnection: async (peerId, maConn) => {
          const deny = await gater.denyOutboundEncryptedConnection?.(peerId, maConn) === true
          if (!deny) this.keeper?.noteStage(maConn.remoteAddr, 'encrypted')
          return deny
        }
      },
      maxPendingInbound: options.connectionLimits.pendingInbound,
      handshakeTimeoutMs: options.connectionLimits.handshakeTimeoutMs,
      agentVersion: agentVersionOf(options.name, PROTOCOL_VERSION)
    })
    this.names = new PeerNames(this.host)
    this.gate.watch(this.host, `${options.protocolPrefix}/kad/1.0.0`)
    const report = (err: Error): void => {
      log.warn('%s', describeError(err))
      this.emit('error', err)
    }
    const send: Send = async (peerId, req, requestOptions) =>
      await request(this.host, peerId, this.protocol, req, timeouts.request * DEADLINE_FACTOR[req.type], requestOptions)
    const localLoad = (): Load => ({ load: this.load.load, capacity: this.load.capacity })
    const pipePeers = pipePeerTags(this.host)
    const onDistributionChange = (producerId: string): void => {
      pipePeers.set([...incoming.pipes().map((p) => p.peerId), ...outgoing.streams().map((s) => s.peerId)])
      if (log.debug.enabled) log.debug('producer %s: %s', producerId, this.describeDistribution(producerId))
      this.emit('distributionchange', producerId)
    }
    const registry = this.registry
    const directory = this.directory = new ProducerDirectory({
      host: this.host,
      announceTimeoutMs: timeouts.announce,
      dhtProvideDelayMs: timeouts.dhtProvideDelay,
      providerValidityMs: timeouts.providerValidity,
      onError: report,
      messenger: {
        announce: async (peerId, producerIds, withdrawn, as) => {
          const answer = await send(peerId, { type: 'announce', producerIds, withdrawn, ...(as === 'home' ? {} : { [as]: true }) })
          return { closer: answer.type === 'closer' ? answer.closer : [] }
        },
        locate: async (peerId, producerId, waitMs, forward) => {
          // The home may wait `waitMs` before it answers; one that forwards gets the time of
          // its own locate on top.
          const deadlineMs = waitMs + timeouts.request * DEADLINE_FACTOR.locate * (forward ? 2 : 1)
          const answer = await request(this.host, peerId, this.protocol, { type: 'locate', producerId, waitMs, ...(forward ? { forward } : {}) }, deadlineMs)
          if (answer.type !== 'providers') throw new RemoteError(peerId, 'bad-message', 'locate answered with something else')
          return { providers: answer.providers, closer: answer.closer ?? [] }
        }
      }
    })
    const spares = this.spares = new SpareTransports({ ip: options.pipeListenIp, announcedIp: options.pipeAnnouncedIp })
    const notices = this.notices = new Notices(send, report)
    const outgoing = this.outgoing = new OutgoingPipes({
      spares, notices, pipeConnectTimeoutMs: timeouts.pipeConnect, report, onDistributionChange,
      lostUpstream: (producerId) => repair.lostUpstream(producerId)
    })
    const incoming = this.incoming = new IncomingPipes({
      localPeerId: this.peerId, registry, spares, notices, send, localLoad, onDistributionChange,
      rtts: () => this.monitor?.rtts(MAX_RTTS) ?? {},
      sctpConnectTimeoutMs: timeouts.pipeConnect,
      onCopyClosed: (event) => {
        repair.onCopyClosed(event)
        if (!event.data) this.emit('copyclosed', { producerId: event.producerId, router: event.router, reason: event.reason })
      }
    })
    const workerPool = this.workerPool
    const puller = this.puller = new ProducerPuller({
      localPeerId: this.peerId,
      registry,
      directory,
      incoming,
      spares,
      workerOf: (router) => workerPool.workerOf(router),
      learnAddresses: async (peerId, addrs) => await directory.learnAddresses(peerId, addrs),
      lookupTimeoutMs: timeouts.lookup,
      maxRedirects: options.maxRedirects,
      whyAlone: async () => await this.whyAlone(),
      assertRunning: () => this.assertRunning(),
      onPulled: (timing) => this.emit('pulled', timing),
      onPullFailed: (failure) => this.emit('pullfailed', failure),
      report,
      penalties: this.penalties,
      onPenalised: (penalty) => {
        log.info('provider %s penalised (%s) in a pull of %s: asked last for %d min: %s', penalty.peerId, penalty.reason, penalty.producerId, PENALTY_MS / 60_000, describeError(penalty.error))
        this.emit('providerpenalised', penalty)
      }
    })
    const repair = new CopyRepair({
      registry,
      puller,
      incoming,
      probe: async (peerId) => await this.ping(peerId, timeouts.livenessPing),
      isStopping: () => this.stopped,
      onRestored: ({ producerId, router, pipeProducer, gapMs }) => {
        if (isDataProducer(pipeProducer)) this.emit('dataproducerrestored', { dataProducerId: producerId, router, pipeDataProducer: pipeProducer, gapMs })
        else this.emit('producerrestored', { producerId, router, pipeProducer, gapMs })
      },
      onRestoreFailed: (event) => this.emit('restorefailed', event)
    })
    const drainer = this.drainer = new Drain({ registry, directory, outgoing, notices, isStopping: () => this.stopped })
    const draining = (): boolean => drainer.draining
    const policy = new DelegationPolicy({
      fits: (cost, reserve, useReserve) => this.load.fits(cost, reserve, useReserve),
      downstreamOf: (producerId) => outgoing.downstreamOf(producerId),
      routeOf: (producerId) => this.routeOf(producerId),
      peers: () => this.peers,
      status: async (peerId, producerId) => {
        const answer = await send(peerId, { type: 'status', producerId })
        if (answer.type !== 'status-ok') throw new RemoteError(peerId, 'bad-message', 'status answered with something else')
        this.peerLoads.set(peerId, { load: answer.load, capacity: answer.capacity })
        return answer
      },
      recruit: async (peerId, producerId, timeoutMs) => {
        const entry = registry.entries(producerId)[0]
        const data = entry !== undefined && isDataProducer(entry.producer)
        await request(this.host, peerId, this.protocol, { type: 'recruit', producerId, ...(data ? { data } : {}) }, timeoutMs)
      }
    }, {
      costs: options.costs,
      fanout: options.fanout,
      reserve: options.recruitReserve,
      recruitBudgetMs: timeouts.request * DEADLINE_FACTOR.recruit
    })
    const refused = (reason: PeerRefusal, peerId: string): void => {
      log.debug('%s refused: %s', peerId, reason)
      this.peerRefusals[reason]++
    }
    const server = new PullServer({
      registry,
      outgoing,
      spares,
      policy,
      limits: options.peerLimits,
      routeOf: (producerId) => this.routeOf(producerId),
      localLoad,
      holdLoad: (cost) => this.load.hold(cost),
      remoteIpsOf: (peerId) => remoteIpsOf(this.host, peerId),
      multiaddrsOf: async (peerId) => await directory.addressesOf(peerId),
      draining,
      onRefused: refused
    })
    const recruits = new RelayRecruits({
      registry,
      puller,
      hasRoomForPipe: () => this.load.fits(Math.max(options.costs.videoPipe, options.costs.audioPipe), 0, false),
      draining,
      routers: () => this.routers(),
      createRouter: async (routerOptions) => await this.createRouter(routerOptions),
      relayMediaCodecs: options.relayMediaCodecs,
      recruitsPerMinute: options.peerLimits.recruitsPerMinute,
      onRefused: (peerId) => refused('recruits', peerId)
    })
    const rooms = this.rooms = new Rooms({
      localPeerId: this.peerId,
      registry,
      directory,
      pollMs: timeouts.roomPoll,
      ask: async (peerId, room) => {
        const answer = await send(peerId, { type: 'room-producers', room })
        if (answer.type !== 'room-producers-ok' || answer.room !== room) throw new RemoteError(peerId, 'bad-message', 'room-producers answered with something else')
        return answer.producers
      }
    })
    const treeInit = this.treeInit = {
      name: options.name,
      registry,
      outgoing,
      routeOf: (producerId: string) => this.routeOf(producerId),
      localLoad,
      addressesOf: async (peerId: string) => await directory.addressesOf(peerId),
      pipeFigures: () => this.pipeFigures?.()
    }
    const handlers = handlerTable({
      server, registry, puller, outgoing, incoming, recruits, repair, directory, localLoad, draining, rooms,
      fanout: options.fanout,
      notePeerLoad: (peerId, load) => this.peerLoads.set(peerId, load),
      tree: treeInit
    })
    this.announceProducers()
    const mediaAddress = new MediaAddressCheck(options.pipeListenIp, options.pipeAnnouncedIp)
    this.host.addEventListener('peer:connect', (event) => {
      const peerId = event.detail.toString()
      log.info('peer connected %s', peerId)
      mediaAddress.peerConnected(peerId, remoteIpsOf(this.host, peerId))
    })
    this.host.addEventListener('peer:disconnect', (event) => {
      const peerId = event.detail.toString()
      log.info('peer disconnected %s', peerId)
      directory.forgetPeer(peerId)
      this.peerLoads.delete(peerId)
      incoming.closePeer(peerId)
      outgoing.closePeer(peerId)
    })
    await serve(this.host, this.protocol, dispatcher(handlers, {
      received: (type) => { this.requestsReceived[type] = (this.requestsReceived[type] ?? 0) + 1 },
      stopping: () => this.stopped,
      internalError: (err, req, peerId) => {
        log.error('%s from %s failed: %s', req.type, peerId, describeError(err))
        report(err)
      }
    }), (code, peerId) => {
      log.debug('bad message from %s: %s', peerId, code)
      this.protocolErrors[code] = (this.protocolErrors[code] ?? 0) + 1
    }, { limits: options.peerLimits, onRefused: refused })
    // Every protocol handler is in place before a peer can reach the node.
    await startHost(this.host, options.listen)
    this.keeper = new BootstrapKeeper(this.host, {
      addresses: options.bootstrap,
      dialTimeoutMs: timeouts.dial,
      minDelayMs: BOOTSTRAP_RETRY_FIRST_MS,
      maxDelayMs: BOOTSTRAP_RETRY_LAST_MS,
      // Past a quarantine's end even with the keeper's −20 % jitter.
      refusedDelayMs: GIVEN_UP_QUARANTINE_MS * 1.25,
      onFailure: report
    })
    this.keeper.start()
    this.watch = new UpstreamWatch({
      pipes: () => incoming.pipes(),
      ping: async (peerId, timeoutMs) => await this.ping(peerId, timeoutMs),
      giveUp: (peerId, reason) => this.giveUp(peerId, reason),
      silenceMs: timeouts.mediaSilence,
      pingTimeoutMs: timeouts.livenessPing,
      // Past it the peer monitor's pings watch a quiet upstream as any other peer.
      quietMaxMs: timeouts.ping,
      noBytesWarningMs: NO_PIPE_BYTES_WARNING_MS,
      onNoBytes: (pipe, silentMs) => mediaAddress.noBytes(pipe.peerId, pipe.transport, silentMs)
    })
    this.watch.start()
    this.monitor = new PeerMonitor(this.host, {
      intervalMs: timeouts.ping,
      failuresBeforeClose: PING_FAILURES_BEFORE_CLOSE,
      // Media from it, or reports of its worker on our pipes to it: only its JS is stuck.
      isAlive: async (peerId) => this.watch?.carriesMedia(peerId) === true || await this.outgoing.hearsFrom(peerId),
      giveUp: (peerId, reason) => this.giveUp(peerId, reason)
    })
    this.monitor.start()
    this.started = true
    log.debug('started %s on %s', this.peerId, this.multiaddrs.join(', '))
  }

  /**
   * Producers appear in the DHT when created, and copies too: a node that receives a
   * producer serves it as a relay. A copy is announced after a moment, so that its
   * announcement does not compete with the pull's own set-up.
   */
  private announceProducers (): void {
    const directory = this.directory!
    this.registry.on('add', ({ producer, isCopy }) => {
      if (!isCopy) {
        void directory.announce(producer.id)
        return
      }
      // A draining node offers no copy to the swarm.
      const offer = (): boolean => !producer.closed && !this.stopped && this.drainer?.draining !== true
      setTimeout(() => { if (offer()) void directory.announce(producer.id, 'copy') }, COPY_ANNOUNCE_DELAY_MS).unref()
    })
    this.registry.on('remove', ({ producer }) => {
      if (this.registry.entries(producer.id).length === 0) void directory.withdraw(producer.id)
    })
  }

  /** This node's libp2p peer id. */
  get peerId (): string {
    return this.host.peerId.toString()
  }

  /** Addresses (with /p2p/<peerId>) another node can use as its bootstrap. */
  get multiaddrs (): string[] {
    return this.host.getMultiaddrs().map((ma) => ma.toString())
  }

  /** This node's name (the `name` option), told to peers in libp2p identify. */
  get name (): string {
    return this.options.name
  }

  /** Names of the connected peers that told one (libp2p identify), by peer id. */
  peerNames (): Record<string, string> {
    return this.names?.all() ?? {}
  }

  /**
   * Where the media figures this node tells peers about its pipes come from (answers to
   * `tree`, drawn on their status pages): a sampler of this node's pipes, such as the
   * binary's. Undefined (the default): none are told.
   */
  setPipeFigures (source: (() => TreePipeFigures[] | undefined) | undefined): void {
    this.pipeFigures = source
  }

  /**
   * The whole distribution tree of a producer this node has, from its origin: each node on
   * it is asked over the swarm (`tree`), level by level, at most `maxNodes` (64) nodes,
   * `maxDepth` (16) levels below the origin, within `timeoutMs` (2000). Undefined when
   * this node does not have the producer.
   */
  async producerTree (producerId: string, bounds: Partial<TreeBounds> = {}): Promise<ProducerTree | undefined> {
    this.assertRunning()
    if (this.registry.entries(producerId).length === 0) return undefined
    const treeInit = this.treeInit!
    return await gatherTree({
      localPeerId: this.peerId,
      local: async (id) => await treeAnswer(treeInit, id),
      ask: async (peerId, id, timeoutMs) => {
        const answer = await request(this.host, peerId, this.protocol, { type: 'tree', producerId: id }, Math.min(timeoutMs, this.options.timeouts.request * DEADLINE_FACTOR.tree))
        if (answer.type !== 'tree-ok') throw new RemoteError(peerId, 'bad-message', 'tree answered with something else')
        return answer
      },
      learnAddresses: async (peerId, addrs) => await this.directory!.learnAddresses(peerId, addrs)
    }, producerId, this.routeOf(producerId), {
      maxNodes: bounds.maxNodes ?? TREE_MAX_NODES,
      maxDepth: bounds.maxDepth ?? TREE_MAX_DEPTH,
      timeoutMs: bounds.timeoutMs ?? TREE_TIMEOUT_MS
    })
  }

  /** Peer ids of the nodes this one is connected to. */
  get peers (): string[] {
    return this.host.getPeers().map((p) => p.toString())
  }

  /** Bad messages received from the network so far, by error code. */
  get protocolErrorCounts (): ProtocolErrorCounts {
    return { ...this.protocolErrors }
  }

  /** Requests and sessions of other nodes refused by a `peerLimits` bound so far, by reason (each from 0). */
  get peerRefusalCounts (): Record<PeerRefusal, number> {
    return { ...this.peerRefusals }
  }

  /** Inbound connections refused so far, by reason (docs/security.md). */
  get connectionRefusalCounts (): Record<RefusalReason, number> {
    return this.gate.refusalCounts
  }

  /** The peer allowlist now (the bootstrap addresses' peers, always allowed, aside); undefined: any peer. */
  get allowedPeers (): string[] | undefined {
    return this.gate.allowedPeers
  }

  /**
   * Replaces the peer allowlist (`allowPeers`); undefined: any peer. Connections with peers
   * no longer allowed are closed at once.
   *
   * @throws TypeError a value that is not a peer id
   */
  setAllowedPeers (peerIds: string[] | undefined): void {
    this.gate.setAllowed(peerIds === undefined ? undefined : peerIdArray(peerIds, 'peerIds'))
  }

  /** Providers penalised by this node's pulls so far, by reason (each from 0; docs/security.md#lying-providers). */
  get providerPenaltyCounts (): Record<PenaltyReason, number> {
    return this.penalties.reasonCounts
  }

  /** Peers penalised now (asked last by this node's pulls), with the reason of their latest penalty. */
  get penalisedProviders (): Map<string, PenaltyReason> {
    return this.penalties.penalised()
  }

  /** Valid requests received from other nodes so far, by type. */
  get requestCounts (): RequestCounts {
    return { ...this.requestsReceived }
  }

  /** Pipe counts, for monitoring and tests. */
  get pipeStats (): PipeStats {
    const outgoing = this.outgoing.stats()
    const incoming = this.incoming.stats()
    return { outgoingPipes: outgoing.pipes, incomingPipes: incoming.pipes, outgoingConsumers: outgoing.consumers, incomingProducers: incoming.copies }
  }

  /** Producers carried by cross-node pipes, both directions, for monitoring (media quality per pipe). */
  pipeStreams (): PipeStream[] {
    const streams: PipeStream[] = []
    for (const pipe of this.incoming.pipes()) {
      for (const [producerId, { producer }] of pipe.copies) if (!isDataProducer(producer)) streams.push({ direction: 'in', peerId: pipe.peerId, producerId, producer })
    }
    for (const { peerId, producerId, consumer } of this.outgoing.streams()) streams.push({ direction: 'out', peerId, producerId, consumer })
    return streams
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
    const router = await this.workerPool!.createRouter(options)
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
    const worker = this.routerById.get(router.id) === router ? this.workerPool!.workerOf(router) : undefined
    if (worker === undefined) throw new TypeError('router must be a router created by this node')
    return await worker.createWebRtcServer(options)
  }

  /** Producers (created here or copies) in one of this node's routers. */
  producersIn (router: ms.Router): ms.Producer[] {
    return this.registry.all().filter((e) => e.router === router).map((e) => e.producer).filter((p) => !isDataProducer(p))
  }

  /** Data producers (created here or copies) in one of this node's routers. */
  dataProducersIn (router: ms.Router): ms.DataProducer[] {
    return this.registry.all().filter((e) => e.router === router).map((e) => e.producer).filter(isDataProducer)
  }

  /** The node's mediasoup workers (resource usage, advanced use); they close with the node. */
  workers (): ms.Worker[] {
    return [...(this.workerPool?.workers ?? [])]
  }

  /** The open routers of this node. */
  routers (): ms.Router[] {
    return [...this.routerById.values()]
  }

  /** Ids of every producer this node has (created here or copies), in any of its routers. */
  producerIds (): string[] {
    return [...new Set(this.registry.all().filter((e) => !isDataProducer(e.producer)).map((e) => e.producer.id))]
  }

  /** Ids of every data producer this node has (created here or copies), in any of its routers. */
  dataProducerIds (): string[] {
    return [...new Set(this.registry.all().filter((e) => isDataProducer(e.producer)).map((e) => e.producer.id))]
  }

  /** This node's load and capacity in scaling points. */
  get capacity (): Load & { spare: number } {
    return { load: this.load.load, capacity: this.load.capacity, spare: this.load.spare }
  }

  /**
   * How the producer (or data producer) reaches this node and where it goes on to;
   * undefined when this node does not have it.
   */
  getDistribution (producerId: string): Distribution | undefined {
    if (this.registry.entries(producerId).length === 0) return undefined
    const route = this.routeOf(producerId)
    const downstream = this.outgoing.downstreamOf(producerId)
    const downstreamLoad: Record<string, Load> = {}
    for (const peerId of downstream) {
      const load = this.peerLoads.get(peerId)
      if (load !== undefined) downstreamLoad[peerId] = load
    }
    return {
      producerId,
      origin: route[0] ?? this.peerId,
      upstream: this.incoming.upstreamOf(producerId)?.peerId ?? null,
      route,
      downstream,
      downstreamLoad,
      load: this.load.load,
      capacity: this.load.capacity
    }
  }

  private describeDistribution (producerId: string): string {
    const d = this.getDistribution(producerId)
    return d === undefined ? 'gone' : `upstream ${d.upstream ?? 'none (local)'}, downstream [${d.downstream.join(', ')}]`
  }

  private routeOf (producerId: string): string[] {
    return [...(this.incoming.upstreamOf(producerId)?.route ?? []), this.peerId]
  }

  /** Why this node is alone (no peer once its bootstrap dial under way is over); undefined: it has peers. */
  private async whyAlone (): Promise<string | undefined> {
    await this.keeper?.settled()
    if (this.stopped || this.host.getPeers().length > 0) return undefined
    const addresses = this.keeper?.addressCount ?? 0
    if (addresses === 0) return 'this node has no peers and no bootstrap address, so there is nobody to ask (give it a member\'s address: bootstrap, --bootstrap)'
    return `this node has no peers: none of its ${addresses} bootstrap address${addresses === 1 ? '' : 'es'} answered (the node's log, or its BootstrapError events, name each address and the cause)`
  }

  /** One ping of `peerId` (dialled if needed): true when answered within `timeoutMs`. */
  private async ping (peerId: string, timeoutMs: number): Promise<boolean> {
    try {
      await pingPeer(this.host, peerIdFromString(peerId), AbortSignal.timeout(timeoutMs))
      return true
    } catch (err) {
      log.debug('ping of %s failed: %s', peerId, describeError(err))
      return false
    }
  }

  /** Closes the connections with a peer found dead: its pipes close and their copies are restored. */
  private giveUp (peerId: string, reason: string): void {
    log.warn('peer %s given up: %s', peerId, reason)
    this.gate.quarantine(peerId, GIVEN_UP_QUARANTINE_MS)
    for (const connection of this.host.getConnections(peerIdFromString(peerId))) connection.abort(new InvalidStateError(`given up: ${reason}`))
  }

  /**
   * Takes the node out of service without cutting anyone off: it takes no new pulls or
   * recruits, withdraws its copies' provider records and asks the nodes it relays to to
   * move to other providers (new path first). Resolves when no downstream pipe is left or
   * after `timeoutMs` (default 30 s); the node keeps running either way (stop() it).
   * Streams it originates cannot move: their downstream goes when they close.
   */
  async drain (options: DrainOptions = {}): Promise<DrainResult> {
    this.assertRunning()
    return await this.drainer!.drain(options)
  }

  /** True once drain() was called. */
  get draining (): boolean {
    return this.drainer?.draining === true
  }

  /**
   * What keeps this node from being removed: pipes sending to other nodes, and the
   * producers and consumers of its own clients (copies it receives do not count). `empty`
   * when all are zero: an autoscaler may take the node away.
   */
  get occupancy (): Occupancy {
    const downstreamPipes = this.outgoing.stats().pipes
    const producers = this.registry.all().filter((e) => !e.isCopy).length
    const consumers = this.load.localConsumers
    return { downstreamPipes, producers, consumers, empty: downstreamPipes === 0 && producers === 0 && consumers === 0 }
  }

  /**
   * Liveness: `running` (started, not stopped) and `workers` (at least one mediasoup worker
   * alive). What the binary's /healthz answers; a process that fails it should be restarted.
   */
  health (): HealthReport<HealthCheckName> {
    return healthReport(this.healthInputs())
  }

  /**
   * Readiness: alive with all `numWorkers` workers, in the swarm (connected to a peer, unless
   * it has no bootstrap address), and not draining. What the binary's /readyz answers; a
   * node that fails it should get no new clients.
   */
  readiness (): HealthReport<ReadinessCheckName> {
    return readinessReport(this.healthInputs())
  }

  private healthInputs (): HealthInputs {
    const running = this.started && !this.stopped
    return {
      running,
      workersAlive: this.workerPool?.workers.filter((w) => !w.closed && !w.died).length ?? 0,
      workersExpected: this.options.numWorkers,
      bootstrapAddresses: this.keeper?.addressCount ?? this.options.bootstrap.length,
      peers: running ? this.host.getPeers().length : 0,
      draining: this.draining
    }
  }

  /** Round-trip times in ms to connected peers, by peer id: libp2p pings every `timeouts.ping`, the lowest of the last RTT_SAMPLES (5). */
  rtts (): Record<string, number> {
    return this.monitor?.rtts() ?? {}
  }

  /**
   * Makes the producer `producerId` usable in `router`, wherever it lives in the swarm:
   * the producer itself when it is in `router`, mediasoup's pipeToRouter() from another
   * router of this node, otherwise a pipe from the node that has it (found in the DHT).
   * Concurrent calls for one producer share one pull.
   *
   * With `dataProducerId` instead, the same for a data producer (SCTP or direct): the copy
   * is a data producer with the same id, label and protocol, on the pipes' SCTP
   * associations; found, redirected, relayed, closed and restored like producers.
   *
   * @throws TypeError bad arguments or a router not created by this node
   * @throws ProducerNotFoundError nobody has it within `timeouts.lookup` (or the id is one of the other kind)
   * @throws CapacityError the nodes that have it, and those asked to relay it, are full
   * @throws RedirectLimitError redirects went deeper than `maxRedirects`
   * @throws InvalidStateError node stopped; or the router's worker already has the id in another router
   */
  async pipeToRouter (options: PipeToRouterOptions): Promise<PipeToRouterResult>
  async pipeToRouter (options: PipeDataToRouterOptions): Promise<PipeDataToRouterResult>
  async pipeToRouter (options: PipeToRouterOptions | PipeDataToRouterOptions): Promise<PipeToRouterResult | PipeDataToRouterResult> {
    this.assertRunning()
    const data = 'dataProducerId' in options
    if (data && 'producerId' in options) throw new TypeError('give producerId or dataProducerId, not both')
    const id = data ? options.dataProducerId : options.producerId
    const { router } = options
    if (typeof id !== 'string' || id.length === 0) throw new TypeError(`${data ? 'dataProducerId' : 'producerId'} must be a non-empty string`)
    if (router === undefined || this.routerById.get(router.id) !== router) throw new TypeError('router must be a router created by this node')
    if (router.closed) throw new InvalidStateError('router is closed')

    let calls = this.calls.get(router)
    if (calls === undefined) this.calls.set(router, calls = new Map())
    let pending = calls.get(id)
    if (pending === undefined) {
      const call = this.puller.locate(id, router, undefined, data).finally(() => {
        calls.delete(id)
        if (calls.size === 0 && this.calls.get(router) === calls) this.calls.delete(router)
      })
      calls.set(id, pending = call)
    }
    const producer = await pending
    // A concurrent call for the same id of the other kind shared this pull.
    if (isDataProducer(producer) !== data) throw new ProducerNotFoundError(id, data ? 'it is a media producer, not a data producer' : 'it is a data producer, not a media producer')
    return isDataProducer(producer) ? { pipeDataProducer: producer } : { pipeProducer: producer }
  }

  /**
   * Watches the producers of `room` (their `appData.room`) wherever in the swarm they were
   * created: resolves with them, then calls `listener` with every producer that appears in
   * the room (`newproducer`) or closes (`producerclosed`) until `stop()`. Producers of this
   * node are seen at once, those of other nodes within `timeouts.roomPoll`.
   *
   * @throws TypeError a room that is not a string of 1-128 characters
   * @throws RoomLimitError this node watches MAX_WATCHED_ROOMS (16) other rooms already
   * @throws InvalidStateError node stopped
   */
  async watchRoom (room: string, listener: (event: RoomEvent) => void): Promise<RoomWatch> {
    this.assertRunning()
    return await this.rooms!.watch(room, listener)
  }

  /** Closes pipes (telling peers), leaves the swarm and closes the workers. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.keeper?.stop()
    this.monitor?.stop()
    this.watch?.stop()
    this.rooms?.stop()
    this.directory?.stop()
    this.spares?.close()
    this.incoming?.closeAll()
    this.outgoing?.closeAll()
    await this.notices?.settled()
    await this.host?.stop()
    this.workerPool?.close()
    log.debug('stopped')
  }

  private assertRunning (): void {
    if (this.stopped) throw new InvalidStateError('node is stopped')
  }
}

export type { PullTiming, ProviderPenalty } from './pulling/producer-puller.js'
export type { PenaltyReason } from './pulling/provider-penalties.js'
export type { DrainOptions, DrainResult } from './serving/drain.js'
export type { DataProducerRestored, ProducerRestored, RestoreFailed } from './healing/copy-repair.js'
export type { CopyCloseReason } from './pipes/incoming-pipes.js'
export type { SwarmNodeEvents } from './events.js'
export type { RoomEvent, RoomWatch } from './rooms/rooms.js'
export type { HealthCheck, HealthCheckName, HealthReport, ReadinessCheckName } from './health.js'
export type { TreePipeFigures, ProducerTree, TreeBounds, TreeEdge, TreeNode } from './tree/producer-tree.js'
export type { Distribution, Occupancy, PipeDataToRouterOptions, PipeDataToRouterResult, PipeStats, PipeStream, PipeToRouterOptions, PipeToRouterResult, ProtocolErrorCounts, RequestCounts } from './types.js'
