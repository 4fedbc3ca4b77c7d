// The node binary as a child process: help and version; every kind of bad input gets one
// line naming the problem and exit code 2; keygen and psk make files start accepts; a
// config file, variables and flags combine; SIGTERM and SIGINT stop it with exit code 0.
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { killAll, LOCAL, ROOT, getJson, run, startBinary } from './binary.js'
import type { Binary } from './binary.js'

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

function assertOneLine (stderr: string, message: RegExp): void {
  const lines = stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`)
  assert.match(lines[0]!, /^mediasoup-swarm: /)
  assert.match(lines[0]!, message)
  assert.doesNotMatch(stderr, /\n\s+at /, 'stack trace printed')
}

describe('mediasoup-swarm binary', function () {
  this.timeout(60_000)
  let dir: string
  const binaries: Binary[] = []

  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cli-')) })
  after(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  afterEach(() => killAll(binaries))

  it('--version prints the package version; --help works for the binary and each command', () => {
    const version = run(['--version'])
    assert.equal(version.code, 0)
    assert.equal(version.stdout.trim(), VERSION)
    for (const args of [['--help'], ['start', '--help'], ['keygen', '--help'], ['psk', '--help']]) {
      const r = run(args)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^usage: mediasoup-swarm|usage: mediasoup-swarm/m)
      assert.equal(r.stderr, '')
    }
    assert.match(run(['start', '--help']).stdout, /--fanout <n>.*\(default: 4\)[\s\S]*MEDIASOUP_SWARM_<NAME>/)
  })

  describe('bad input: one line on stderr naming the problem, exit code 2', () => {
    const blockers: Array<{ close: () => unknown }> = []
    let tcpPort = 0
    let udpPort = 0
    const file = (name: string, content: string): string => {
      const p = path.join(dir, name)
      fs.writeFileSync(p, content)
      return p
    }

    before(async () => {
      const tcp = net.createServer()
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
      tcpPort = (tcp.address() as net.AddressInfo).port
      const udp = dgram.createSocket('udp4')
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
      udpPort = udp.address().port
      blockers.push(tcp, udp)
    })
    after(() => { for (const b of blockers) b.close() })

    // [what, arguments, expected message, environment]; functions run once the ports and files exist.
    type Case = [string, () => string[], () => RegExp, NodeJS.ProcessEnv?]
    const cases: Case[] = [
      ['unknown command', () => ['frobnicate'], () => /unknown command "frobnicate"/],
      ['unknown option of the binary', () => ['--frob'], () => /unknown option --frob/],
      ['unknown flag', () => ['start', '--fan-out', '2'], () => /unknown option --fan-out/],
      ['flag without its value', () => ['start', '--fanout'], () => /--fanout needs a value/],
      ['value for a switch', () => ['start', '--signalling=yes'], () => /--signalling takes no value/],
      ['stray argument', () => ['start', 'now'], () => /start takes no argument "now"/],
      ['not a number', () => ['start', '--fanout', 'x'], () => /--fanout must be a positive integer \(got "x"\)/],
      ['zero workers', () => ['start', '--workers', '0'], () => /--workers must be a positive integer \(got "0"\)/],
      ['negative capacity', () => ['start', '--capacity=-5'], () => /--capacity must be a positive number \(got "-5"\)/],
      ['port out of range', () => ['start', '--rtc-min-port', '70000'], () => /--rtc-min-port must be a port number from 1 to 65535 \(got "70000"\)/],
      ['port range upside down', () => ['start', '--rtc-min-port', '50000', '--rtc-max-port', '40000'], () => /--rtc-min-port \(50000\) is above --rtc-max-port \(40000\)/],
      ['scalar flag given twice', () => ['start', '--fanout', '2', '--fanout', '3'], () => /--fanout was given 2 times/],
      ['bad value in a variable', () => ['start'], () => /MEDIASOUP_SWARM_WORKERS must be a positive integer \(got "two"\)/, { MEDIASOUP_SWARM_WORKERS: 'two' }],
      ['misspelt variable', () => ['start'], () => /MEDIASOUP_SWARM_FANOUTS is not a setting/, { MEDIASOUP_SWARM_FANOUTS: '2' }],
      ['bad boolean variable', () => ['start'], () => /MEDIASOUP_SWARM_SIGNALLING must be true or false \(got "maybe"\)/, { MEDIASOUP_SWARM_SIGNALLING: 'maybe' }],
      ['not a multiaddr', () => ['start', '--listen', 'localhost:4001'], () => /--listen "localhost:4001" is not a multiaddr/],
      ['listen address not TCP', () => ['start', '--listen', '/ip4/127.0.0.1/udp/4001'], () => /--listen "\/ip4\/127.0.0.1\/udp\/4001" is not a TCP address/],
      ['bootstrap address without peer id', () => ['start', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'], () => /--bootstrap "\/ip4\/127.0.0.1\/tcp\/4001" has no \/p2p\/<peerId> part/],
      ['bad announce address', () => ['start', '--announce', '/ip4/1.2.3/tcp/1'], () => /--announce "\/ip4\/1.2.3\/tcp\/1" is not a multiaddr/],
      ['media IP not an IP', () => ['start', '--media-ip', 'my-host'], () => /--media-ip must be an IPv4 or IPv6 address \(got "my-host"\)/],
      ['media IP not of this host', () => ['start', '--media-ip', '192.0.2.1'], () => /--media-ip 192.0.2.1 is not an address of this host/],
      ['wildcard media IP without announced IP', () => ['start', '--media-ip', '0.0.0.0'], () => /--media-ip 0.0.0.0 listens on every interface: --media-announced-ip must say/],
      ['bad HTTP address', () => ['start', '--http', 'everywhere'], () => /--http must be <ip>:<port>.*\(got "everywhere"\)/],
      ['unknown log level', () => ['start', '--log-level', 'loud'], () => /--log-level must be one of none, error, warn, info, debug, trace \(got "loud"\)/],
      ['short token secret', () => ['start', '--token-secret', 'x'.repeat(31)], () => /--token-secret must be at least 32 characters/],
      ['missing config file', () => ['start', '--config', path.join(dir, 'none.json')], () => /--config .*none\.json: no such file/],
      ['config file not JSON', () => ['start', '--config', file('bad.json', '{ fanout: 2')], () => /--config .*bad\.json: not JSON/],
      ['unknown key in the config file', () => ['start', '--config', file('typo.json', '{"fan-out": 2}')], () => /"fan-out" in .*typo\.json is not a setting/],
      ['bad value in the config file', () => ['start', '--config', file('zero.json', '{"fanout": 0}')], () => /"fanout" in .*zero\.json must be a positive integer \(got "0"\)/],
      ['missing swarm key file', () => ['start', ...LOCAL, '--swarm-key', path.join(dir, 'none.key')], () => /--swarm-key: key file .*none\.key: ENOENT/],
      ['malformed swarm key file', () => ['start', ...LOCAL, '--swarm-key', file('bad-swarm.key', 'garbage')], () => /--swarm-key: key file .*bad-swarm\.key: not a swarm key/],
      ['malformed identity file', () => ['start', ...LOCAL, '--identity', file('bad-id.key', 'garbage')], () => /--identity: key file .*bad-id\.key: not a libp2p private key/],
      ['identity file that is a directory', () => ['start', ...LOCAL, '--identity', dir], () => /--identity: key file .*: EISDIR/],
      ['HTTP port in use', () => ['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', `127.0.0.1:${tcpPort}`], () => new RegExp(`cannot listen on HTTP 127.0.0.1:${tcpPort}: address already in use`)],
      ['libp2p port in use', () => ['start', '--listen', `/ip4/127.0.0.1/tcp/${tcpPort}`, '--http', '127.0.0.1:0'], () => new RegExp(`cannot listen on /ip4/127.0.0.1/tcp/${tcpPort}: address in use`)],
      ['WebRTC port in use', () => ['start', ...LOCAL, '--signalling', '--webrtc-port', String(udpPort)], () => new RegExp(`cannot open the WebRTC port 127.0.0.1:${udpPort}: UDP address already in use`)],
      ['keygen without a file', () => ['keygen'], () => /keygen needs one argument, the file to write/],
      ['psk with two files', () => ['psk', 'a.key', 'b.key'], () => /psk needs one argument, the file to write/],
      ['keygen with an unknown flag', () => ['keygen', '--force', 'x.key'], () => /unknown option --force \(see mediasoup-swarm keygen --help\)/]
    ]
    for (const [what, args, message, env] of cases) {
      it(what, () => {
        const r = run(args(), env)
        assert.equal(r.code, 2, `exit code ${r.code}; stderr:\n${r.stderr}`)
        assertOneLine(r.stderr, message())
        assert.equal(r.stdout, '')
      })
    }
  })

  it('keygen and psk write 0600 files that start accepts; keygen keeps the peer id it printed; neither overwrites', async () => {
    const identity = path.join(dir, 'keys', 'node.key')
    const swarmKey = path.join(dir, 'keys', 'swarm.key')
    const made = run(['keygen', identity])
    assert.equal(made.code, 0, made.stderr)
    const printedPeerId = /peer id (\S+)/.exec(made.stdout)?.[1]
    assert.ok(printedPeerId?.startsWith('12D3KooW'), made.stdout)
    assert.equal(run(['psk', swarmKey]).code, 0)
    for (const f of [identity, swarmKey]) assert.equal(fs.statSync(f).mode & 0o777, 0o600)
    for (const [command, f] of [['keygen', identity], ['psk', swarmKey]] as const) {
      const before = fs.readFileSync(f)
      const again = run([command, f])
      assert.equal(again.code, 2)
      assertOneLine(again.stderr, /exists; not overwriting it/)
      assert.deepEqual(fs.readFileSync(f), before)
    }
    const node = await startBinary([...LOCAL, '--identity', identity, '--swarm-key', swarmKey])
    binaries.push(node)
    assert.equal(node.peerId, printedPeerId)
    assert.equal((await getJson(`${node.httpUrl}status`)).peerId, printedPeerId)
    assert.equal((await node.stop()).code, 0)
  })

  it('settings combine: config file < variables < flags; relative paths in the file are relative to it', async () => {
    const sub = path.join(dir, 'conf')
    fs.mkdirSync(sub, { recursive: true })
    const config = path.join(sub, 'node.json')
    fs.writeFileSync(config, JSON.stringify({ fanout: 3, capacity: 500, workers: 1, identity: 'id.key', listen: ['/ip4/127.0.0.1/tcp/0'], http: '127.0.0.1:0' }))
    const node = await startBinary(['--capacity', '700'], { MEDIASOUP_SWARM_CONFIG: config, MEDIASOUP_SWARM_CAPACITY: '600', MEDIASOUP_SWARM_LOG_LEVEL: 'warn' })
    binaries.push(node)
    const status = await getJson(`${node.httpUrl}status`)
    assert.equal(status.capacity, 700)
    assert.ok(fs.existsSync(path.join(sub, 'id.key')), 'identity not created next to the config file')
    assert.equal((await node.stop()).code, 0)
    assert.equal(node.stderr(), '', 'log level warn still logged info lines')
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} stops the node gracefully: HTTP closes, exit code 0 within 5 s`, async () => {
      const node = await startBinary(LOCAL)
      binaries.push(node)
      await getJson(`${node.httpUrl}status`)
      const { code, ms } = await node.stop(signal)
      assert.equal(code, 0, node.stderr())
      assert.ok(ms < 5000, `stop took ${ms} ms`)
      assert.match(node.stderr(), new RegExp(`mediasoup-swarm:cli:info ${signal}: stopping\\n(.*\\n)*.* mediasoup-swarm:cli:info stopped\\n`))
      await assert.rejects(fetch(`${node.httpUrl}status`))
    })
  }
})
