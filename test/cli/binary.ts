// Runs the node binary (its TypeScript source, through tsx) as a child process, as an
// operator would: its one start line is parsed for the peer id, addresses and URLs.
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { waitFor } from '../harness/index.js'
import type { ChildProcess, ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'

export const ROOT = path.resolve(import.meta.dirname, '../..')
const MAIN = path.join(ROOT, 'src/cli/main.ts')
const NODE_ARGS = ['--import', 'tsx', MAIN]

/** Flags that keep a test binary on loopback and free ports. */
export const LOCAL = ['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0']

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end. Variables starting MEDIASOUP_SWARM_ come only from `env`. */
export function run (args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env: { ...cleanEnv(), ...env }, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function cleanEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEDIASOUP_SWARM_')))
}

export interface Binary {
  child: ChildProcessByStdio<null, Readable, Readable>
  peerId: string
  multiaddrs: string[]
  /** With a trailing slash, e.g. http://127.0.0.1:7070/ */
  httpUrl: string
  signallingUrl: string | undefined
  stdout: () => string
  stderr: () => string
  /** Sends `signal` to the node's process and resolves with the exit code and how long the exit took. */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null, ms: number }>
  /**
   * Sends `signal` to the binary's whole process group (Node.js and its mediasoup workers):
   * SIGKILL is a dead host, SIGSTOP a frozen one.
   */
  signalGroup: (signal: NodeJS.Signals) => void
  /** Resolves when the node's process has exited. */
  exited: Promise<number | null>
}

const START_LINE = /started: peer=(\S+) multiaddrs=(\S+) http=(\S+)(?: signalling=(\S+))?/

/**
 * Starts `mediasoup-swarm start <args>` (in network namespace `netns`, when given; root) and
 * waits for its start line (at most `startTimeoutMs`, default 20 s).
 */
export async function startBinary (args: string[], env: NodeJS.ProcessEnv = {}, { netns, startTimeoutMs = 20_000 }: { netns?: string, startTimeoutMs?: number } = {}): Promise<Binary> {
  // A process group of its own, as on a host of its own: signalGroup() reaches the node
  // and its mediasoup workers at once. `ip netns exec` execs node in place: same process.
  const command = netns === undefined ? [process.execPath] : ['ip', 'netns', 'exec', netns, process.execPath]
  const child = spawn(command[0]!, [...command.slice(1), ...NODE_ARGS, 'start', ...args], { cwd: ROOT, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    await waitFor(() => START_LINE.test(stdout) || child.exitCode !== null, { timeoutMs: startTimeoutMs, what: 'the start line', progress: () => stdout + stderr })
  } catch (err) {
    signalGroup(child, 'SIGKILL')
    throw err
  }
  const line = START_LINE.exec(stdout)
  if (line === null) {
    signalGroup(child, 'SIGKILL')
    throw new Error(`the binary exited with ${child.exitCode}:\n${stdout}${stderr}`)
  }
  return {
    child,
    peerId: line[1]!,
    multiaddrs: line[2]!.split(','),
    httpUrl: line[3]!,
    signallingUrl: line[4],
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      const started = performance.now()
      if (child.exitCode === null) child.kill(signal)
      const code = await exited
      return { code, ms: performance.now() - started }
    },
    signalGroup: (signal) => signalGroup(child, signal),
    exited
  }
}

function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch (err) {
    // ESRCH: the whole group is gone already.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

/** Kills what a test left running: each binary's whole process group (its workers too). */
export function killAll (binaries: Binary[]): void {
  for (const b of binaries.splice(0)) b.signalGroup('SIGKILL')
}

export async function getJson<T = any> (url: string): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return await res.json() as T
}

export async function getText (url: string): Promise<string> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return await res.text()
}

/** The value of one sample of Prometheus text, e.g. sample(text, 'x_total{transport="pipe"}'); 0 when absent. */
export function sample (metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
