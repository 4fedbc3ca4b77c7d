// The parent side of a swarm node in its own Node.js process (bench/node-process.ts), as
// in production: the benchmark sends it commands over Node IPC and gets answers back;
// everything timed is timed inside that process. Also the command set both sides share.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { MediaKind } from './rtp-source.js'
import type { DhtProbe, Sample } from './timing.js'
import type { Distribution, DrainResult, SwarmNode, SwarmNodeOptions } from '../../src/index.js'

export interface NodeInfo {
  peerId: string
  multiaddrs: string[]
  peers: string[]
}

/**
 * A pull timed in the requester's process (ms), and whether the requester had no connection
 * with the node that served it when the pull began (it opened one: a handshake, identify).
 */
export interface PullSample { ms: number, dialled: boolean }

/** Every command: its arguments and its answer. */
export interface Commands {
  /** Creates the node and one router (the harness's mediaCodecs). */
  start: { args: { options: SwarmNodeOptions }, result: NodeInfo }
  info: { args: Record<string, never>, result: NodeInfo }
  /** An RTP source on the node's router, not sending until startSource. */
  /** `inNewRouter`: in a router made for it (on the least loaded worker), not the node's first one. */
  /**
   * `redisUrl`: also writes producer id → this node's peer id and addresses to that Redis
   * (the central directory of bench/swarm-scale-redis.ts) before answering.
   */
  createSource: { args: { kind: MediaKind, packetsPerSecond: number, inNewRouter?: boolean, redisUrl?: string }, result: { producerId: string } }
  startSource: { args: { producerId: string }, result: null }
  stopSource: { args: { producerId: string }, result: null }
  closeSource: { args: { producerId: string }, result: null }
  /** pipeToRouter() → first packet at a new sink, timed here (the sink and copy are kept until release). */
  timedPull: { args: { producerId: string }, result: Sample }
  /** pipeToRouter() only, timed here; the copy is kept until release. */
  pull: { args: { producerId: string }, result: PullSample }
  /** Connects to a Redis (kept for later commands), then one PING: its round trip, ms. */
  redisConnect: { args: { redisUrl: string }, result: number }
  /**
   * The central design's pull: GET producer id → node from Redis, tell the node where it is
   * (location cache, peer store), then pipeToRouter(), as `pull`. `ms`: GET + pull; `getMs`:
   * the GET alone. The copy is kept until release.
   */
  pullViaRedis: { args: { producerId: string, redisUrl: string }, result: PullSample & { getMs: number } }
  /** A sink on the node's own producer → first packet; the sink is closed after. */
  timedLocal: { args: { producerId: string }, result: Sample }
  /**
   * Closes the sink and copy of a pull, then waits until this node no longer has the
   * producer and has `incomingPipes` incoming pipes. Answers the time that took, ms.
   */
  release: { args: { producerId: string, incomingPipes: number }, result: number }
  getDistribution: { args: { producerId: string }, result: Distribution | null }
  pipeStats: { args: Record<string, never>, result: SwarmNode['pipeStats'] }
  /** One node-to-node `status` request to `peerId`, ms. */
  statusRoundTrip: { args: { peerId: string }, result: number }
  /** DHT probe (bench/common.ts): announce the key of producer id `name`. */
  dhtProvide: { args: { name: string }, result: Pick<DhtProbe, 'provide' | 'provideBusy'> }
  /** DHT probe: look the key of producer id `name` up, to the end of the query. */
  dhtFind: { args: { name: string }, result: Pick<DhtProbe, 'first' | 'complete' | 'findBusy'> }
  /**
   * pipeToRouter() and a sink that is consumed again whenever the copy is restored (as an
   * app does on `producerrestored`); every packet's arrival time is kept.
   */
  watch: { args: { producerId: string }, result: null }
  /** What a watch saw: arrival times (epoch ms) after `since`, and the node's copy events for it. */
  watchReport: { args: { producerId: string, since: number }, result: WatchReport }
  /** node.drain(). */
  drain: { args: { timeoutMs: number }, result: DrainResult }
  /** Pids of the node's mediasoup workers. */
  workerPids: { args: Record<string, never>, result: number[] }
  /** Counts the node can be asked for (baseline checks after churn). */
  counts: { args: Record<string, never>, result: NodeCounts }
  /** Closes every pulled copy (and its sink) and every source of this node; the node goes on. */
  closeAll: { args: Record<string, never>, result: null }
  /** Closes the sources and stops the node; the process exits when the parent disconnects. */
  stop: { args: Record<string, never>, result: null }
}

/** One event of the node about a copy (copyclosed, producerrestored, restorefailed), epoch ms. */
export interface CopyEvent { type: 'copyclosed' | 'producerrestored' | 'restorefailed', at: number, detail: string, gapMs?: number }

export interface WatchReport {
  /** Arrival times of RTP packets at the watch's sinks, epoch ms, after `since`. */
  arrivals: number[]
  /** Every packet so far. */
  packets: number
  events: CopyEvent[]
  /** The upstream of the copy now (null: none). */
  upstream: string | null
}

export interface NodeCounts {
  peers: number
  pipes: SwarmNode['pipeStats']
  producers: number
  workers: number
  draining: boolean
  heapUsedBytes: number
  rssBytes: number
  /** Resident memory of the node's mediasoup workers (VmRSS), summed. */
  workerRssBytes: number
  /** Open libp2p connections. */
  connections: number
  /** Connections opened since the node started, dialled by either side. */
  connectionsOpened: number
  /** kad-dht's routing-table refresh has run (its timer is set, or a prefix length was refreshed). */
  dhtTableRefreshRuns: boolean
  /** Background errors and unhandled rejections seen by the process. */
  errors: string[]
}

/** Wall-clock time in ms with sub-ms precision, comparable between processes of one host. */
export function epochNow (): number {
  return performance.timeOrigin + performance.now()
}

/** The largest silence in `arrivals` (sorted, epoch ms) between `from` and `to`: the media gap. */
export function largestGap (arrivals: readonly number[], from: number, to: number): { gapMs: number, resumedAt: number | undefined } {
  let previous = from
  let gapMs = 0
  let resumedAt: number | undefined
  for (const t of arrivals) {
    if (t < from) continue
    if (t > to) break
    if (t - previous > gapMs) {
      gapMs = t - previous
      resumedAt = t
    }
    previous = t
  }
  if (to - previous > gapMs) return { gapMs: to - previous, resumedAt: undefined }
  return { gapMs, resumedAt }
}

export type Command = keyof Commands

export interface RequestMessage<C extends Command = Command> { id: number, cmd: C, args: Commands[C]['args'] }

/** From the child: an answer to request `id`, or an event of the node. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'result', id: number, result: unknown }
  | { type: 'failure', id: number, error: string }
  /** A background `error` event of the node (name: message). */
  | { type: 'error-event', error: string }

const ENTRY = fileURLToPath(new URL('./process-node-child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DEFAULT_TIMEOUT_MS = 10_000

interface Pending { resolve: (result: unknown) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec`; root). */
  netns?: string
  /** Extra environment variables (DEBUG=…). */
  env?: NodeJS.ProcessEnv
  /**
   * The child's code as one JavaScript file (bundleNodeProcess()), run by Node.js without
   * tsx, as production runs compiled code. Default: the TypeScript source through tsx.
   */
  entry?: string
  /** The child's stdout and stderr (its log) go to the end of this file instead of the parent's. */
  logFile?: string
  /** Options for the child's Node.js (`--cpu-prof`, …). */
  execArgv?: string[]
}

/**
 * Bundles the child (process-node-child.ts and our sources; packages stay imports) into one
 * ES module under node_modules/.cache, where Node.js resolves the packages, and returns its
 * path. For benchmarks of many processes: no tsx loader thread and no compiling per process
 * (at N = 50 loading 50 processes through tsx saturated both cores for a minute).
 */
export async function bundleNodeProcess (): Promise<string> {
  const { build } = await import('esbuild')
  const outfile = fileURLToPath(new URL('../../node_modules/.cache/mediasoup-swarm-bench/process-node-child.mjs', import.meta.url))
  await build({ entryPoints: [ENTRY], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' })
  return outfile
}

/** One swarm node in a child process. */
export class RemoteNode {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private exited: string | undefined
  private exitStatus: number | null | undefined
  private readonly exit: Promise<unknown>
  private info: NodeInfo | undefined

  private constructor (readonly index: number, private readonly child: ChildProcess, onError: (text: string) => void) {
    this.exit = new Promise((resolve) => child.once('exit', resolve))
    child.on('message', (raw) => {
      const msg = raw as ChildMessage
      if (msg.type === 'error-event') {
        onError(msg.error)
      } else if (msg.type === 'result' || msg.type === 'failure') {
        const p = this.pending.get(msg.id)
        if (p === undefined) return
        this.pending.delete(msg.id)
        clearTimeout(p.timer)
        if (msg.type === 'result') p.resolve(msg.result)
        else p.reject(new Error(`node ${index}: ${msg.error}`))
      }
    })
    child.on('error', (err) => onError(`process: ${err.name}: ${err.message}`))
    child.on('exit', (code, signal) => {
      this.exitStatus = code
      this.exited = `node ${index}'s process exited (${signal ?? `code ${String(code)}`})`
      for (const p of this.pending.values()) {
        clearTimeout(p.timer)
        p.reject(new Error(this.exited))
      }
      this.pending.clear()
    })
  }

  /**
   * Starts the process (it loads the library, then says it is ready). The node itself is
   * created by `start()`, so that several processes can load at once.
   */
  static async spawn (index: number, onError: (text: string) => void, { netns, env, entry, logFile, execArgv = [] }: SpawnOptions = {}): Promise<RemoteNode> {
    const command = netns === undefined ? [process.execPath] : ['ip', 'netns', 'exec', netns, process.execPath]
    const code = [...execArgv, ...(entry === undefined ? ['--import', 'tsx', ENTRY] : [entry])]
    // The child has its own copy of the descriptor: the parent's is closed once it is spawned.
    const log = logFile === undefined ? undefined : fs.openSync(logFile, 'a')
    const child = spawn(command[0]!, [...command.slice(1), ...code], {
      cwd: ROOT,
      stdio: log === undefined ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', log, log, 'ipc'],
      env: { ...process.env, ...env },
      // A process group of its own: signals reach the node and its mediasoup workers at
      // once, as on a real host (see signal()).
      detached: true,
      // v8 serialisation: NaN and undefined survive (JSON would turn NaN into null).
      serialization: 'advanced'
    })
    if (log !== undefined) fs.closeSync(log)
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${index}'s process not ready within 30 s`)), 30_000)
      child.on('message', (msg: ChildMessage) => { if (msg.type === 'ready') { clearTimeout(timer); resolve() } })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${index}'s process exited with code ${String(code)} before it was ready`)) })
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
    })
    const node = new RemoteNode(index, child, onError)
    try {
      await ready
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
    return node
  }

  get peerId (): string { return this.started().peerId }
  get multiaddrs (): string[] { return this.started().multiaddrs }
  get pid (): number | undefined { return this.child.pid }
  get alive (): boolean { return this.exited === undefined }
  /** The process's exit code once it exited (0: it stopped cleanly; null: killed by a signal). */
  get exitCode (): number | null | undefined { return this.exitStatus }

  /**
   * Sends `signal` to the node's whole process group (Node.js and its mediasoup workers):
   * SIGKILL is a dead host, SIGSTOP a frozen one, SIGCONT thaws it.
   */
  signal (signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, signal)
    } catch (err) {
      // ESRCH: the whole group is gone already.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }

  /** Resolves when the process has exited. */
  async waitForExit (): Promise<void> {
    await this.exit
  }

  async start (options: SwarmNodeOptions): Promise<NodeInfo> {
    this.info = await this.request('start', { options }, 30_000)
    return this.info
  }

  /** Sends a command; rejects with the child's error, or when no answer came within `timeoutMs`. */
  async request<C extends Command> (cmd: C, args: Commands[C]['args'], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Commands[C]['result']> {
    if (this.exited !== undefined) throw new Error(this.exited)
    const id = this.nextId++
    return await new Promise<Commands[C]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`node ${this.index}: no answer to ${cmd} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer })
      const msg: RequestMessage<C> = { id, cmd, args }
      this.child.send(msg, (err) => {
        if (err === null) return
        clearTimeout(timer)
        this.pending.delete(id)
        reject(err)
      })
    })
  }

  /**
   * Stops the node (closing its pipes and workers), then disconnects; the process exits on
   * that. A process that has not exited after `timeoutMs` is killed. Idempotent.
   */
  async stop (timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.exited !== undefined) {
      this.signal('SIGKILL')
      return
    }
    // A frozen group would never answer.
    this.signal('SIGCONT')
    const deadline = performance.now() + timeoutMs
    try {
      await this.request('stop', {}, timeoutMs)
    } catch {
      // Not started, already gone, frozen or stuck: the disconnect or the kill below ends it.
    }
    if (this.child.connected) this.child.disconnect()
    const left = Math.max(100, deadline - performance.now())
    const timer = setTimeout(() => this.signal('SIGKILL'), left)
    await this.exit
    clearTimeout(timer)
    // Workers of a killed node die with it; a stopped one's were closed by stop().
    this.signal('SIGKILL')
  }

  private started (): NodeInfo {
    if (this.info === undefined) throw new Error(`node ${this.index} not started`)
    return this.info
  }
}

/**
 * `count` node processes in a bootstrap chain, node i bootstrapping from node i-1 (as
 * the harness's startChain()). The processes load in parallel; the nodes start in order.
 */
export async function startProcessChain (count: number, onError: (index: number, text: string) => void, options: SwarmNodeOptions = {}): Promise<RemoteNode[]> {
  const spawned = await Promise.allSettled(Array.from({ length: count }, async (_, i) => await RemoteNode.spawn(i, (text) => onError(i, text))))
  const nodes = spawned.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
  try {
    const failed = spawned.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    for (const [i, node] of nodes.entries()) {
      await node.start({ ...options, bootstrap: i === 0 ? [] : nodes[i - 1]!.multiaddrs })
    }
  } catch (err) {
    await stopProcesses(nodes)
    throw err
  }
  return nodes
}

/** Waits until every node is connected to `minPeers` others (as the harness's waitConnected()). */
export async function waitProcessesConnected (nodes: RemoteNode[], timeoutMs = 10_000, minPeers = Math.min(2, nodes.length - 1)): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const peers = await Promise.all(nodes.map(async (n) => (await n.request('info', {})).peers.length))
    if (peers.every((p) => p >= minPeers)) return
    if (performance.now() > deadline) throw new Error(`swarm not connected after ${timeoutMs} ms: ${peers.join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Stops every node and waits for its process to exit. */
export async function stopProcesses (nodes: RemoteNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => await n.stop()))
}
