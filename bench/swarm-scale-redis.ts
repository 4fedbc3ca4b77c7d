import '../src/platform/promise-with-resolvers.js'
// The central design, side by side with the swarm's (swarm-scale.ts): a central directory
// in a real Redis, as LiveKit keeps its routing there. The origin, when it makes a
// producer, SETs producer id → its peer id and addresses; a requester GETs that and pulls
// from the node with the very same pull machinery (the location learnt, no swarm lookup).
// Run on the swarm-scale swarm once its own measurements are done, with new producers and
// the same pattern of origins, requesters and ages. Every producer and copy is closed
// first, as before the DHT pulls: left open, the earlier ones and their re-announcements
// (every node announces every producer and copy it has, whichever design finds them) would
// load the swarm more than during the DHT pulls, and the central design would be measured
// on a busier swarm.
// Redis runs inside the swarm's network namespace, started here and stopped after.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { formatTable, sleep, waitFor } from '../test/harness/index.js'
import { heading, ratio, summary } from './common.js'
import type { ChildProcess } from 'node:child_process'
import type { PullSample, RemoteNode } from '../test/harness/process-node.js'

/** The DHT design's pull latency within this factor of the central design's (p50 and p95), at N = 50. */
export const CENTRAL_GOAL = { ratio: 2, atNodes: 50 }
const REDIS_PORT = 6379
const REDIS_START_TIMEOUT_MS = 10_000
const REDIS_STOP_TIMEOUT_MS = 5000
/** After the earlier producers are gone everywhere: their withdrawals settle. */
const CLEAN_SLATE_SETTLE_MS = 3000

/** How swarm-scale pulls: so many producers of each age, one pull each. */
export interface PullPattern {
  pulls: number
  oldAgeMs: number
  freshAgeMs: number
}

export interface CentralResult {
  /** Pulls (GET + pipeToRouter()) of producers made ≥ oldAgeMs before. */
  old: PullSample[]
  /** Of producers made freshAgeMs before. */
  fresh: PullSample[]
  /** The GETs alone. */
  get: number[]
  failed: string[]
  /** How many of `failed` were pulls of the old producers. */
  failedOld: number
  /** The whole side run (closing the earlier producers, Redis start to stop), s. */
  seconds: number
  /** Why it was not measured (no redis-server, …). */
  error?: string
}

/** A redis-server inside a network namespace, on 127.0.0.1 there, nothing written to disk. */
class RedisInNamespace {
  private constructor (private readonly child: ChildProcess, private readonly exited: Promise<unknown>, private readonly dir: string) {}

  get url (): string {
    return `redis://127.0.0.1:${REDIS_PORT}`
  }

  static async start (netns: string): Promise<RedisInNamespace> {
    if (spawnSync('redis-server', ['--version']).error !== undefined) {
      throw new Error('redis-server not found: `npm run bench` installs it (scripts/setup.mjs --bench), or apt-get install redis-server')
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mss-redis-'))
    const child = spawn('ip', ['netns', 'exec', netns, 'redis-server',
      '--bind', '127.0.0.1', '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--dir', dir, '--databases', '1'], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const redis = new RedisInNamespace(child, exited, dir)
    let output = ''
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server not ready within ${REDIS_START_TIMEOUT_MS} ms: ${output.slice(-500).trim()}`)), REDIS_START_TIMEOUT_MS)
        const read = (chunk: Buffer): void => {
          output += chunk.toString()
          if (output.includes('Ready to accept connections')) { clearTimeout(timer); resolve() }
        }
        child.stdout?.on('data', read)
        child.stderr?.on('data', read)
        child.once('error', (err) => { clearTimeout(timer); reject(err) })
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${String(code)}): ${output.slice(-500).trim()}`)) })
      })
    } catch (err) {
      await redis.stop()
      throw err
    }
    // From here its log is not needed.
    child.stdout?.resume()
    child.stderr?.resume()
    return redis
  }

  /** SIGTERM, SIGKILL after a while; removes its directory. Idempotent. */
  async stop (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), REDIS_STOP_TIMEOUT_MS)
      await this.exited
      clearTimeout(timer)
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

function pick<T> (items: readonly T[], not?: T): T {
  for (;;) {
    const item = items[Math.floor(Math.random() * items.length)]!
    if (item !== not || items.length === 1) return item
  }
}

/**
 * The central design on `nodes` (started, in network namespace `netns`): producers made by
 * random origins and written to Redis, each pulled once by another random node, of each age
 * of `pattern`. Never throws: a failure to run is the result's `error`.
 */
export async function measureCentral (netns: string, nodes: readonly RemoteNode[], pattern: PullPattern): Promise<CentralResult> {
  const result: CentralResult = { old: [], fresh: [], get: [], failed: [], failedOld: 0, seconds: NaN }
  const started = performance.now()
  let redis: RedisInNamespace | undefined
  try {
    // The swarm as the DHT pulls found it: no producers, no copies.
    await clearSwarm(nodes)
    redis = await RedisInNamespace.start(netns)
    const redisUrl = redis.url
    // Connected before the clock runs, as a node's client would be.
    await Promise.all(nodes.map(async (node) => await node.request('redisConnect', { redisUrl })))
    const create = async (origin: RemoteNode): Promise<string> =>
      (await origin.request('createSource', { kind: 'audio', packetsPerSecond: 50, redisUrl })).producerId
    const pull = async (requester: RemoteNode, producerId: string, into: PullSample[]): Promise<void> => {
      try {
        const { ms, getMs, dialled } = await requester.request('pullViaRedis', { producerId, redisUrl }, 10_000)
        into.push({ ms, dialled })
        result.get.push(getMs)
      } catch (err) {
        result.failed.push((err as Error).message.slice(0, 300))
      }
    }
    const old: Array<{ origin: RemoteNode, producerId: string }> = []
    for (let i = 0; i < pattern.pulls; i++) {
      const origin = pick(nodes)
      old.push({ origin, producerId: await create(origin) })
    }
    await sleep(pattern.oldAgeMs)
    for (const { origin, producerId } of old) await pull(pick(nodes, origin), producerId, result.old)
    result.failedOld = result.failed.length
    for (let i = 0; i < pattern.pulls; i++) {
      const origin = pick(nodes)
      const producerId = await create(origin)
      await sleep(pattern.freshAgeMs)
      await pull(pick(nodes, origin), producerId, result.fresh)
    }
  } catch (err) {
    result.error = (err as Error).message
  } finally {
    await redis?.stop()
    result.seconds = (performance.now() - started) / 1000
  }
  return result
}

/** Closes every producer and copy of `nodes`, waits until they are gone everywhere, and lets their withdrawals settle. */
export async function clearSwarm (nodes: readonly RemoteNode[]): Promise<void> {
  await Promise.all(nodes.map(async (node) => await node.request('closeAll', {})))
  let producers: number[] = []
  await waitFor(async () => {
    producers = await Promise.all(nodes.map(async (node) => (await node.request('counts', {})).producers))
    return producers.every((p) => p === 0)
  }, { timeoutMs: 15_000, intervalMs: 250, what: 'the earlier producers and copies closed', progress: () => `producers per node: ${producers.join(',')}` })
  await sleep(CLEAN_SLATE_SETTLE_MS)
}

/** One swarm size: the DHT design's pulls (swarm-scale's) and the central design's. */
export interface SideBySide {
  n: number
  old: PullSample[]
  fresh: PullSample[]
  central?: CentralResult
}

export function printCentral (results: readonly SideBySide[]): void {
  const { ratio: goal, atNodes } = CENTRAL_GOAL
  heading(`the DHT design vs a central directory in Redis (GET + pipeToRouter() → copy usable), ms; goal: DHT ≤ ${goal}× Redis at p50 and p95, N = ${atNodes}`)
  const rows = results.flatMap((r) => {
    const c = r.central
    if (c === undefined) return []
    if (c.error !== undefined) return [{ nodes: r.n, producers: `Redis design not measured: ${c.error}` }]
    const get = summary(c.get)
    return ([['made ≥ 2 s before', r.old, c.old, c.failedOld], ['made 100 ms before', r.fresh, c.fresh, c.failed.length - c.failedOld]] as const).map(([age, dhtSamples, redisSamples, failed]) => {
      const dht = summary(dhtSamples.map((s) => s.ms))
      const central = summary(redisSamples.map((s) => s.ms))
      const within = dht.p50 <= goal * central.p50 && dht.p95 <= goal * central.p95
      return {
        nodes: r.n,
        producers: age,
        'DHT p50': dht.p50.toFixed(1),
        'DHT p95': dht.p95.toFixed(1),
        'Redis p50': central.p50.toFixed(1),
        'Redis p95': central.p95.toFixed(1),
        'of which GET p50': get.p50.toFixed(2),
        'DHT/Redis p50': ratio(dht.p50, central.p50),
        'DHT/Redis p95': ratio(dht.p95, central.p95),
        [`≤ ${goal}× (goal at N = ${atNodes})`]: Number.isFinite(dht.p50) && Number.isFinite(central.p50) ? (within ? 'met' : 'missed') : 'n/a',
        'Redis failed': `${failed}/${redisSamples.length + failed}`,
        'Redis run, s': c.seconds.toFixed(0)
      }
    })
  })
  console.log(formatTable(rows))
  for (const r of results) for (const f of [...new Set(r.central?.failed ?? [])].slice(0, 5)) console.log(`  N=${r.n} Redis design failed: ${f}`)
}
