// SwarmNode: a mediasoup SFU node that is a member of a libp2p swarm. Composes the host
// (p2p/), the producer directory (directory/), the wire protocol (protocol/) and the media
// side (media/), and owns their lifecycle.
import { EventEmitter } from 'node:events'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { InvalidStateError, ProducerNotFoundError, RemoteError, RequestTimeoutError, SwarmError } from '../errors.js'
import { ProducerDirectory } from '../directory/producer-directory.js'
import { WorkerPool } from '../media/worker-pool.js'
import { ProducerRegistry } from '../media/producer-registry.js'
import { createHost } from '../p2p/host.js'
import { loadOrCreateIdentity } from '../p2p/identity.js'
import { loadSwarmKey } from '../p2p/swarm-key.js'
import { pipeProtocolId } from '../protocol/messages.js'
import { request, serve } from '../protocol/rpc.js'
import { resolveOptions } from './options.js'
import { PipeService } from './pipe-service.js'
import type { Host } from '../p2p/host.js'
import type { PrivateKey } from '@libp2p/interface'
import type { ErrorCode, Request, Response } from '../protocol/messages.js'
import type { ResolvedOptions, SwarmNodeOptions } from './options.js'
import type { types as ms } from 'mediasoup'

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

export interface SwarmNodeEvents {
  /** Something went wrong in the background (a notification that could not be sent…). */
  error: [Error]
  /** A mediasoup worker died; the node stops. */
  workerdied: [Error]
}

/** Counters of bad input received from the network, by error code. */
export type ProtocolErrorCounts = Partial<Record<ErrorCode, number>>

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
  private workers!: WorkerPool
  private directory!: ProducerDirectory
  private pipes!: PipeService
  private readonly registry = new ProducerRegistry()
  private readonly routers = new Map<string, ms.Router>()
  private readonly pulls = new Map<string, Promise<ms.Producer>>()
  private readonly protocolErrors: ProtocolErrorCounts = {}
  private stopped = false
  private readonly protocol: string

  /** @internal use createSwarmNode() */
  constructor (private readonly options: ResolvedOptions) {
    super()
    this.protocol = pipeProtocolId(options.protocolPrefix)
  }

  /** @internal */
  async start (privateKey: PrivateKey, swarmKey: Uint8Array | undefined): Promise<void> {
    const { timeouts } = this.options
    this.workers = await WorkerPool.create(this.options.numWorkers, this.options.workerSettings, (_worker, error) => {
      this.emit('workerdied', error)
      void this.stop()
    })
    try {
      this.host = await createHost({
        privateKey,
        listen: this.options.listen,
        announce: this.options.announce,
        bootstrap: this.options.bootstrap,
        swarmKey,
        protocolPrefix: this.options.protocolPrefix,
        addressPolicy: this.options.addressPolicy,
        providerValidityMs: timeouts.providerValidity,
        reprovideIntervalMs: timeouts.providerValidity / 4,
        pingIntervalMs: timeouts.ping,
        dialTimeoutMs: timeouts.dial
      })
    } catch (err) {
      this.workers.close()
      throw err
    }
    const onError = (err: Error): void => { this.emit('error', err) }
    this.directory = new ProducerDirectory(this.host, onError)
    this.pipes = new PipeService({
      registry: this.registry,
      listen: { ip: this.options.pipeListenIp, announcedIp: this.options.pipeAnnouncedIp },
      send: async (peerId, req) => await request(this.host, peerId, this.protocol, req, timeouts.request),
      pipeConnectTimeoutMs: timeouts.pipeConnect,
      onError
    })
    this.registry.on('originadd', ({ producer }) => { void this.directory.announce(producer.id) })
    this.registry.on('originremove', ({ producer }) => {
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
    const router = await this.workers.createRouter(options)
    this.routers.set(router.id, router)
    router.observer.once('close', () => this.routers.delete(router.id))
    this.registry.track(router)
    return router
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
    if (typeof producerId !== 'string' || producerId.length === 0) throw new TypeError('producerId must be a non-empty string')
    if (router === undefined || this.routers.get(router.id) !== router) throw new TypeError('router must be a router created by this node')
    this.assertRunning()
    if (router.closed) throw new InvalidStateError('router is closed')

    const key = `${router.id}/${producerId}`
    let pending = this.pulls.get(key)
    if (pending === undefined) {
      pending = this.locate(producerId, router).finally(() => this.pulls.delete(key))
      this.pulls.set(key, pending)
    }
    return { pipeProducer: await pending }
  }

  private async locate (producerId: string, router: ms.Router): Promise<ms.Producer> {
    const here = this.registry.inRouter(producerId, router)
    if (here !== undefined) return here.producer
    const local = this.registry.entries(producerId)[0]
    if (local !== undefined) return await this.pipeBetweenLocalRouters(local.router, router, producerId)
    // Pull once per node: a call for another router waits for a pull under way, then pipes locally.
    const other = [...this.pulls.entries()].find(([k]) => k.endsWith(`/${producerId}`) && !k.startsWith(`${router.id}/`))
    if (other !== undefined) {
      const copy = await other[1].catch(() => undefined)
      if (copy !== undefined && !copy.closed) return await this.locate(producerId, router)
    }
    return await this.pullFromSwarm(producerId, router)
  }

  private async pipeBetweenLocalRouters (from: ms.Router, to: ms.Router, producerId: string): Promise<ms.Producer> {
    // mediasoup allows one producer id per worker.
    const toWorker = this.workers.workerOf(to)
    if (this.registry.entries(producerId).some((e) => this.workers.workerOf(e.router) === toWorker)) {
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

  private async pullFromSwarm (producerId: string, router: ms.Router): Promise<ms.Producer> {
    const deadline = AbortSignal.timeout(this.options.timeouts.lookup)
    const failures: string[] = []
    const tryPeer = async (peerId: string): Promise<ms.Producer | undefined> => {
      try {
        const producer = await this.pipes.pull(peerId, producerId, router)
        this.directory.remember(producerId, peerId)
        return producer
      } catch (err) {
        // A stale record, a dead peer, a peer that broke the protocol: skip it, try others.
        if (!(err instanceof RemoteError || err instanceof RequestTimeoutError)) throw err
        this.directory.forget(producerId, peerId)
        failures.push(`${peerId}: ${err instanceof RemoteError ? err.code : 'timeout'}`)
        return undefined
      }
    }
    const cached = this.directory.cachedLocation(producerId)
    if (cached !== undefined) {
      const producer = await tryPeer(cached)
      if (producer !== undefined) return producer
    }
    while (!deadline.aborted) {
      this.assertRunning()
      try {
        for await (const peerId of this.directory.findProviders(producerId, deadline)) {
          const producer = await tryPeer(peerId)
          if (producer !== undefined) return producer
        }
      } catch (err) {
        if (!deadline.aborted && !(err instanceof SwarmError)) this.emit('error', err as Error)
      }
      // Not announced yet (or only stale records): look again shortly.
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new ProducerNotFoundError(producerId, failures.length > 0 ? `tried ${failures.slice(-5).join(', ')}` : 'no provider record')
  }

  private async handle (req: Request, peerId: string): Promise<Response> {
    if (this.stopped) return { type: 'error', code: 'not-found', message: 'node is stopping' }
    try {
      switch (req.type) {
        case 'pull': return await this.pipes.handlePull(peerId, req.producerId, req.linkId)
        case 'connect-pipe': return await this.pipes.handleConnect(peerId, req.pipeId, req.remote)
        case 'release': return this.pipes.handleRelease(peerId, req.pipeId, req.producerId)
        case 'producer-event': return this.pipes.handleProducerEvent(peerId, req.pipeId, req.producerId, req.event)
        case 'close-pipe': return this.pipes.handleClosePipe(peerId, req.pipeId)
      }
    } catch (err) {
      this.emit('error', err as Error)
      return { type: 'error', code: 'internal', message: (err as Error).message }
    }
  }

  /** Closes pipes (telling peers), leaves the swarm and closes the workers. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.pipes?.closeAll()
    await this.host?.stop()
    this.workers?.close()
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
