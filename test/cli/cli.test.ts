// The node binary as a child process: bad input gets one line and exit code 2; two
// binaries find each other and pipe a stream; SIGTERM stops gracefully with exit 0.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { createSwarmNode } from '../../src/index.js'
import { createRtpSource, mediaCodecs, waitFor } from '../harness/index.js'
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { SwarmNode } from '../../src/index.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MAIN = path.join(ROOT, 'src/cli/main.ts')

function runSync (args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>
  output: () => string
  httpUrl: string
  multiaddr: string
}

async function startBinary (args: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor(() => /status page (\S+)\//.test(out) || child.exitCode !== null, { timeoutMs: 15_000, what: 'binary started', progress: () => out })
  const http = /status page (\S+)\//.exec(out)
  const addr = /listening (\S+)/.exec(out)
  if (http === null || addr === null) throw new Error(`binary did not start:\n${out}`)
  return { child, output: () => out, httpUrl: http[1]!, multiaddr: addr[1]! }
}

async function getJson (url: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return await (await fetch(url)).json()
}

async function stopBinary (running: Running): Promise<{ code: number | null, ms: number }> {
  const started = Date.now()
  const exited = new Promise<number | null>((resolve) => running.child.once('exit', (code) => resolve(code)))
  running.child.kill('SIGTERM')
  return { code: await exited, ms: Date.now() - started }
}

describe('mediasoup-swarm binary', function () {
  this.timeout(60_000)
  let dir: string
  const children: Running[] = []
  const nodes: SwarmNode[] = []

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cli-')) })
  afterEach(async () => {
    for (const r of children.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL')
    await Promise.all(nodes.splice(0).map(async (n) => await n.stop()))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('prints its version and help', () => {
    const version = runSync(['--version'])
    assert.equal(version.code, 0)
    assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version)
    for (const args of [['--help'], ['start', '--help'], ['keygen', '--help'], ['psk', '--help']]) {
      const r = runSync(args)
      assert.equal(r.code, 0)
      assert.match(r.stdout, /usage: mediasoup-swarm/)
    }
    assert.match(runSync(['start', '--help']).stdout, /MEDIASOUP_SWARM_FANOUT/)
  })

  describe('bad input: one line naming the problem, exit code 2', () => {
    const cases: Array<[string, string[], RegExp, NodeJS.ProcessEnv?]> = [
      ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
      ['unknown flag', ['start', '--fan-out', '2'], /Unknown option '--fan-out'/],
      ['bad number', ['start', '--fanout', 'many'], /--fanout must be a non-negative integer \(got "many"\)/],
      ['zero fan-out', ['start', '--fanout', '0'], /--fanout must be a positive integer/],
      ['bad value in the environment', ['start'], /MEDIASOUP_SWARM_WORKERS must be a non-negative integer/, { MEDIASOUP_SWARM_WORKERS: 'two' }],
      ['bad multiaddr', ['start', '--listen', 'localhost:4001'], /--listen: not a multiaddr: "localhost:4001"/],
      ['bootstrap without peer id', ['start', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'], /has no \/p2p\/<peerId> part/],
      ['bad IP', ['start', '--media-ip', 'my-host'], /--media-ip must be an IP address/],
      ['bad HTTP address', ['start', '--http', 'everywhere'], /--http must be <ip>:<port>/],
      ['port range upside down', ['start', '--rtc-min-port', '50000', '--rtc-max-port', '40000'], /--rtc-min-port \(50000\) is above --rtc-max-port/],
      ['unreadable swarm key', ['start', '--swarm-key', '/no/such/file.key'], /--swarm-key: cannot read \/no\/such\/file.key \(ENOENT\)/],
      ['unreadable config file', ['start', '--config', '/no/such/config.json'], /cannot read config file/],
      ['keygen without a file', ['keygen'], /expected one file name/]
    ]
    for (const [what, args, message, env] of cases) {
      it(what, () => {
        const r = runSync(args, env)
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, message)
        assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line:\n${r.stderr}`)
        assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, 'stack trace printed')
      })
    }

    it('malformed key files', () => {
      const bad = path.join(dir, 'bad.key')
      fs.writeFileSync(bad, 'garbage')
      for (const flag of ['--identity', '--swarm-key']) {
        const r = runSync(['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', flag, bad])
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, /key file .*bad\.key/)
        assert.equal(r.stderr.trim().split('\n').length, 1)
      }
    })

    it('an HTTP port in use, and a libp2p port in use', async () => {
      const blocker = net.createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      const port = (blocker.address() as net.AddressInfo).port
      try {
        const http = runSync(['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', `127.0.0.1:${port}`])
        assert.equal(http.code, 2, http.stderr)
        assert.match(http.stderr, new RegExp(`HTTP address 127.0.0.1:${port} is in use`))
        const p2p = runSync(['start', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--http', '127.0.0.1:0'])
        assert.equal(p2p.code, 2, p2p.stderr)
        assert.match(p2p.stderr, new RegExp(`cannot listen on /ip4/127.0.0.1/tcp/${port}: address in use`))
      } finally {
        blocker.close()
      }
    })
  })

  it('keygen and psk write files that start accepts, and refuse to overwrite them', async () => {
    const identity = path.join(dir, 'node.key')
    const swarmKey = path.join(dir, 'swarm.key')
    assert.equal(runSync(['keygen', identity]).code, 0)
    assert.equal(runSync(['psk', swarmKey]).code, 0)
    const again = runSync(['keygen', identity])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /exists; not overwriting/)
    const first = await startBinary(['--identity', identity, '--swarm-key', swarmKey])
    children.push(first)
    const peerId = (await getJson(`${first.httpUrl}/status`)).peerId
    await stopBinary(first)
    const second = await startBinary(['--identity', identity, '--swarm-key', swarmKey])
    children.push(second)
    assert.equal((await getJson(`${second.httpUrl}/status`)).peerId, peerId, 'identity file did not keep the peer id')
  })

  it('settings come from a config file, and flags win over it', async () => {
    const config = path.join(dir, 'node.json')
    fs.writeFileSync(config, JSON.stringify({ fanout: 3, capacity: 500, http: '127.0.0.1:0' }))
    const running = await startBinary(['--config', config, '--capacity', '700'])
    children.push(running)
    const status = await getJson(`${running.httpUrl}/status`)
    assert.equal(status.capacity, 700)
  })

  it('two binaries find each other and pipe a stream; /metrics and /status show it; SIGTERM exits 0 quickly', async () => {
    const first = await startBinary([])
    children.push(first)
    const second = await startBinary(['--bootstrap', first.multiaddr, '--signalling'])
    children.push(second)
    await waitFor(async () => (await getJson(`${second.httpUrl}/status`)).peers.length >= 1, { timeoutMs: 5000, what: 'binaries connected' })

    // A publisher: a library node in this process joining the same swarm, fed real RTP.
    const publisher = await createSwarmNode({ bootstrap: [first.multiaddr] })
    nodes.push(publisher)
    const source = await createRtpSource({ router: await publisher.createRouter({ mediaCodecs }), kind: 'audio', packetsPerSecond: 100 })
    try {
      // A browser-side client of the second binary asks to consume it: the binary pulls it.
      const signallingUrl = /browser signalling (\S+)/.exec(second.output())![1]!
      const ws = new WebSocket(signallingUrl)
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const call = async (id: number, method: string, data: unknown): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
        ws.send(JSON.stringify({ id, method, data }))
        return await new Promise((resolve) => ws.on('message', (m) => { const r = JSON.parse(m.toString()); if (r.id === id) resolve(r) }))
      }
      const caps = await call(1, 'getRouterRtpCapabilities', {})
      const transport = await call(2, 'createWebRtcTransport', { direction: 'recv' })
      const consumed = await call(3, 'consume', { transportId: transport.data.id, producerId: source.producer.id, rtpCapabilities: caps.data })
      assert.equal(consumed.ok, true, JSON.stringify(consumed))
      ws.close()

      const status = await getJson(`${second.httpUrl}/status`)
      const piped = status.producers.find((p: { producerId: string }) => p.producerId === source.producer.id)
      assert.ok(piped !== undefined, 'second binary does not have the producer')
      assert.equal(piped.upstream, publisher.peerId)
      // Media reaches the second binary: its pipe transport receives bytes.
      await waitFor(async () => {
        const metrics = await (await fetch(`${second.httpUrl}/metrics`)).text()
        return Number(/swarm_transport_bytes\{direction="received"\} (\d+)/.exec(metrics)?.[1] ?? 0) > 5000
      }, { timeoutMs: 5000, what: 'bytes received by the second binary' })
      const metrics = await (await fetch(`${second.httpUrl}/metrics`)).text()
      assert.match(metrics, /swarm_producers\{type="piped"\} 1/)
      assert.match(metrics, /swarm_pipes\{direction="up"\} 1/)
      assert.match(metrics, /swarm_pipe_setup_seconds_count 1/)
      const page = await (await fetch(`${second.httpUrl}/`)).text()
      assert.match(page, /<svg|data-role/)
    } finally {
      source.close()
    }

    for (const running of [second, first]) {
      const { code, ms } = await stopBinary(running)
      assert.equal(code, 0, running.output())
      assert.ok(ms < 5000, `stop took ${ms} ms`)
      assert.match(running.output(), /SIGTERM: stopping\nstopped/)
    }
  })
})
