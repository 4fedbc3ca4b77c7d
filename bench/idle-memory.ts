import '../src/platform/promise-with-resolvers.js'
// Idle memory of one node as a user runs it: the built binary (dist/cli/main.js, run with
// the interpreter and flags of its shebang, as `mediasoup-swarm start` is), one mediasoup
// worker, alone and with 5 peers (5 more binaries bootstrapping from it). The resident set
// (VmRSS) of the Node.js process and of its worker is read from /proc once it is steady,
// beside the ≤ 80 MB target for both together (issue 10). Builds dist/ when it is stale.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { formatTable, sleep, waitFor } from '../test/harness/index.js'
import { heading, median, processCpuSeconds } from './common.js'
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { Benchmark } from './common.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const MAIN = path.join(ROOT, 'dist/cli/main.js')
/** Node.js process + its one worker, resident (issue 10). */
const TARGET_MB = 80
const PEERS = 5
/**
 * Idle means: at least this long after the start line (V8's memory-reducing GCs ran 20 s
 * to 106 s after it; a node runs for days, so its idle memory is what they leave)…
 */
const MIN_IDLE_MS = 120_000
/** …and the node's RSS moved less than STEADY_MB over the last STEADY_MS… */
const STEADY_MS = 10_000
const STEADY_MB = 0.5
/** …or this long after the start line, whichever comes first. */
const MAX_IDLE_MS = 150_000
/** Starts timed per binary (median): spawn → start line. */
const STARTS = 5
const START_LINE = /started: peer=\S+ multiaddrs=(\S+) http=(\S+)/

interface Launch {
  /** What the kernel runs for `dist/cli/main.js` (e.g. /usr/bin/env), and its one argument. */
  interpreter: string
  args: string[]
}

/** The shebang of the built binary, run as the kernel runs it: `<interpreter> [<argument>] <file> …`. */
function shebangLaunch (): Launch {
  if (!fs.existsSync(MAIN) || fs.statSync(MAIN).mtimeMs < newestMtime(path.join(ROOT, 'src'))) {
    console.log('dist/ is missing or older than src/: npm run build')
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`)
  }
  const first = fs.readFileSync(MAIN, 'utf8').split('\n', 1)[0]!
  const match = /^#!\s*(\S+)(?:\s+(.*))?$/.exec(first)
  if (match === null) throw new Error(`${MAIN} has no shebang line`)
  return { interpreter: match[1]!, args: match[2] === undefined ? [] : [match[2].trim()] }
}

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

/** A value of /proc/<pid>/status in MB (kB there), NaN when the process is gone. */
function statusMb (pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? NaN : Number(match[1]) / 1024
  } catch {
    return NaN
  }
}

/** Pids of the mediasoup workers the node spawned (its children). */
function workerPids (pid: number): number[] {
  const children = fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((s) => s !== '').map(Number))
  return children.filter((child) => { try { return fs.readFileSync(`/proc/${child}/comm`, 'utf8').startsWith('mediasoup-work') } catch { return false } })
}

interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>
  pid: number
  multiaddr: string
  httpUrl: string
  /** Spawn → start line. */
  startMs: number
  /** CPU the process used until its start line. */
  startCpuS: number
}

async function startNode (launch: Launch, env: NodeJS.ProcessEnv, bootstrap?: string): Promise<Running> {
  const args = [...launch.args, MAIN, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', ...(bootstrap === undefined ? [] : ['--bootstrap', bootstrap])]
  const t0 = performance.now()
  // Its own process group: the cleanup reaches its worker too.
  const child = spawn(launch.interpreter, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  try {
    await waitFor(() => START_LINE.test(output) || child.exitCode !== null, { timeoutMs: 60_000, intervalMs: 10, what: 'the start line', progress: () => output })
    const line = START_LINE.exec(output)
    if (line === null) throw new Error(`the binary exited with ${child.exitCode}:\n${output}`)
    return { child, pid: child.pid!, multiaddr: line[1]!.split(',')[0]!, httpUrl: line[2]!, startMs: performance.now() - t0, startCpuS: processCpuSeconds(child.pid!) }
  } catch (err) {
    kill(child.pid)
    throw err
  }
}

function kill (pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

interface Idle {
  nodeMb: number
  anonMb: number
  workerMb: number
  waitedS: number
}

/** Samples the node's RSS every second until it is steady (see MIN_IDLE_MS…), then reads node and worker. */
async function idleRss (node: Running, from: number): Promise<Idle> {
  const samples: Array<{ at: number, mb: number }> = []
  for (;;) {
    const at = performance.now() - from
    samples.push({ at, mb: statusMb(node.pid, 'VmRSS') })
    const recent = samples.filter((s) => s.at >= at - STEADY_MS).map((s) => s.mb)
    const steady = samples[0]!.at <= at - STEADY_MS && Math.max(...recent) - Math.min(...recent) < STEADY_MB
    if ((at >= MIN_IDLE_MS && steady) || at >= MAX_IDLE_MS) break
    await sleep(1000)
  }
  const workers = workerPids(node.pid)
  if (workers.length !== 1) throw new Error(`expected one mediasoup worker, found ${workers.length}`)
  return { nodeMb: statusMb(node.pid, 'VmRSS'), anonMb: statusMb(node.pid, 'RssAnon'), workerMb: statusMb(workers[0]!, 'VmRSS'), waitedS: (performance.now() - from) / 1000 }
}

async function connectedPeers (node: Running): Promise<number> {
  const res = await fetch(new URL('status', node.httpUrl))
  return ((await res.json()) as { peers: unknown[] }).peers.length
}

/** Medians over STARTS starts of a lone node: spawn → start line, and CPU used until then. */
export async function startTimes (launch: Launch, env: NodeJS.ProcessEnv): Promise<{ startMs: number, startCpuS: number }> {
  const wall: number[] = []
  const cpu: number[] = []
  for (let i = 0; i < STARTS; i++) {
    const node = await startNode(launch, env)
    kill(node.pid)
    wall.push(node.startMs)
    cpu.push(node.startCpuS)
  }
  return { startMs: median(wall), startCpuS: median(cpu) }
}

/** One node alone (peers 0) or with `peers` more binaries bootstrapped from it; its idle RSS. */
export async function measureIdle (launch: Launch, env: NodeJS.ProcessEnv, peers: number): Promise<Idle> {
  const started: Running[] = []
  try {
    const node = await startNode(launch, env)
    started.push(node)
    for (let i = 0; i < peers; i++) started.push(await startNode(launch, env, node.multiaddr))
    if (peers > 0) await waitFor(async () => await connectedPeers(node) >= peers, { timeoutMs: 30_000, intervalMs: 500, what: `${peers} peers connected` })
    return await idleRss(node, performance.now())
  } finally {
    for (const r of started) kill(r.pid)
  }
}

function row (label: string, peers: number, r: Idle, start: { startMs: number, startCpuS: number }): Record<string, string | number> {
  const total = r.nodeMb + r.workerMb
  return {
    binary: label,
    peers,
    'node MB': r.nodeMb,
    '(anon)': r.anonMb,
    'worker MB': r.workerMb,
    'total MB': total,
    target: `≤ ${TARGET_MB}: ${total <= TARGET_MB ? 'met' : 'missed'}`,
    'start ms': Math.round(start.startMs),
    'start CPU s': start.startCpuS.toFixed(2),
    'idle after s': Math.round(r.waitedS)
  }
}

async function run (): Promise<void> {
  const shipped = shebangLaunch()
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEDIASOUP_SWARM_')))
  const variants: Array<{ label: string, launch: Launch }> = [
    { label: `as shipped (${shipped.interpreter} ${shipped.args.join(' ')})`, launch: shipped },
    { label: 'node, no flags (reference)', launch: { interpreter: process.execPath, args: [] } }
  ]
  const rows = []
  for (const v of variants) {
    const start = await startTimes(v.launch, env)
    for (const peers of [0, PEERS]) rows.push(row(v.label, peers, await measureIdle(v.launch, env, peers), start))
  }
  heading(`idle memory of one node (Node.js process + its one mediasoup worker), resident, target ≤ ${TARGET_MB} MB`)
  console.log(formatTable(rows))
  console.log(`\n(VmRSS from /proc once steady: ≥ ${MIN_IDLE_MS / 1000} s after the start line — or after the peers connected — and`)
  console.log(` moving < ${STEADY_MB} MB over ${STEADY_MS / 1000} s, at most ${MAX_IDLE_MS / 1000} s; anon: RssAnon, the rest is mostly the node binary's`)
  console.log(' code and data mapped from disk, shared with other Node.js processes. start: spawn → start line of a lone node,')
  console.log(` median of ${STARTS}; start CPU: CPU time the process used until then, which unlike the wall time does not count`)
  console.log(' waiting for a core.)')
}

export const idleMemory: Benchmark = {
  name: 'idle-memory',
  title: 'idle RSS of the built binary (node + one worker), alone and with 5 peers',
  run
}
