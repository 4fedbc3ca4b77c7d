// Settings of `start`, resolved in-process: defaults, the three sources and their order,
// lists, booleans, paths; and docs/cli.md lists every setting.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { envName, resolveStartSettings, SETTINGS } from '../../src/cli/config.js'
import { UsageError } from '../../src/cli/errors.js'
import type { StartSettings } from '../../src/cli/config.js'
import { ROOT } from './binary.js'

function settings (args: string[], env: NodeJS.ProcessEnv = {}): StartSettings {
  const r = resolveStartSettings(args, env)
  assert.equal(r.help, false)
  return (r as { settings: StartSettings }).settings
}

describe('start settings', () => {
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-config-')) })
  after(() => { fs.rmSync(dir, { recursive: true, force: true }) })

  it('defaults: loopback HTTP on 7070, free WebRTC ports, one worker, fan-out 4, capacity left to the library', () => {
    const s = settings([])
    assert.deepEqual(s.http, { host: '127.0.0.1', port: 7070 })
    assert.deepEqual(s.listen, ['/ip4/0.0.0.0/tcp/4001'])
    assert.equal(s.workers, 1)
    assert.equal(s.fanout, 4)
    assert.equal(s.maxConnections, 32)
    assert.equal(s.capacity, undefined)
    assert.equal(s.webrtcPort, 0)
    assert.equal(s.signalling, false)
    assert.equal(s.logLevel, 'info')
    assert.equal(s.mediaSamplePeriod, 10)
  })

  it('a flag wins over a variable, which wins over the config file', () => {
    const config = path.join(dir, 'order.json')
    fs.writeFileSync(config, JSON.stringify({ fanout: 2, workers: 3, capacity: 100 }))
    const s = settings(['--config', config, '--fanout', '7', '--max-connections', '12'], { MEDIASOUP_SWARM_FANOUT: '5', MEDIASOUP_SWARM_WORKERS: '4' })
    assert.deepEqual([s.fanout, s.workers, s.capacity, s.maxConnections], [7, 4, 100, 12])
    assert.equal(settings([], { MEDIASOUP_SWARM_CONFIG: config }).workers, 3)
  })

  it('lists: repeated flags, comma-separated flags and variables, arrays in the file; the highest source replaces the others', () => {
    const a = '/ip4/127.0.0.1/tcp/1'
    const b = '/ip4/127.0.0.1/tcp/2'
    assert.deepEqual(settings(['--listen', a, '--listen', b]).listen, [a, b])
    assert.deepEqual(settings([`--listen=${a},${b}`]).listen, [a, b])
    assert.deepEqual(settings([], { MEDIASOUP_SWARM_LISTEN: `${a}, ${b}` }).listen, [a, b])
    const config = path.join(dir, 'lists.json')
    fs.writeFileSync(config, JSON.stringify({ listen: [a, b] }))
    assert.deepEqual(settings(['--config', config]).listen, [a, b])
    assert.deepEqual(settings(['--config', config, '--listen', a]).listen, [a])
  })

  it('booleans: the flag, true/false/1/0 in variables, JSON booleans in the file', () => {
    assert.equal(settings(['--signalling']).signalling, true)
    assert.equal(settings([], { MEDIASOUP_SWARM_SIGNALLING: '1' }).signalling, true)
    assert.equal(settings([], { MEDIASOUP_SWARM_SIGNALLING: 'false' }).signalling, false)
    const config = path.join(dir, 'bool.json')
    fs.writeFileSync(config, JSON.stringify({ signalling: true }))
    assert.equal(settings(['--config', config]).signalling, true)
    assert.equal(settings(['--config', config], { MEDIASOUP_SWARM_SIGNALLING: 'no' }).signalling, false)
  })

  it('paths in a config file are relative to the file; on the command line, to the working directory', () => {
    const config = path.join(dir, 'paths.json')
    fs.writeFileSync(config, JSON.stringify({ identity: 'keys/node.key', 'swarm-key': '/etc/swarm.key' }))
    const s = settings(['--config', config])
    assert.equal(s.identity, path.join(dir, 'keys/node.key'))
    assert.equal(s.swarmKey, '/etc/swarm.key')
    assert.equal(settings(['--identity', 'node.key']).identity, 'node.key')
  })

  it('HTTP addresses: IPv4, bracketed IPv6, port 0', () => {
    assert.deepEqual(settings(['--http', '[::1]:0']).http, { host: '::1', port: 0 })
    assert.deepEqual(settings(['--http', '0.0.0.0:8080']).http, { host: '0.0.0.0', port: 8080 })
  })

  it('bad values throw UsageError naming the source', () => {
    const config = path.join(dir, 'bad.json')
    fs.writeFileSync(config, JSON.stringify({ workers: 'two' }))
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--workers', 'two'], {}, /^--workers must be a positive integer \(got "two"\)$/],
      [[], { MEDIASOUP_SWARM_WORKERS: 'two' }, /^MEDIASOUP_SWARM_WORKERS must be a positive integer \(got "two"\)$/],
      [['--config', config], {}, /^"workers" in .*bad\.json must be a positive integer \(got "two"\)$/],
      [['--http', '127.0.0.1:70000'], {}, /^--http must be a port number from 0 to 65535 \(got "70000"\)$/],
      [['--signalling', '--webrtc-port', '65535', '--workers', '2'], {}, /^--webrtc-port 65535 leaves no port for each of 2 workers/],
      [['--media-sample-period', '0.05'], {}, /^--media-sample-period must be at least 0.1 \(got "0.05"\)$/]
    ]
    for (const [args, env, message] of cases) {
      assert.throws(() => resolveStartSettings(args, env), (err: unknown) => err instanceof UsageError && message.test(err.message), `${args.join(' ')} ${JSON.stringify(env)}`)
    }
  })

  it('--name: a name of 1-64 characters of [A-Za-z0-9._-], from any source; none: the library\'s default (the host name)', () => {
    assert.equal(settings([]).name, undefined)
    assert.equal(settings(['--name', 'media-3.eu_west']).name, 'media-3.eu_west')
    assert.equal(settings([], { MEDIASOUP_SWARM_NAME: 'n'.repeat(64) }).name, 'n'.repeat(64))
    for (const bad of ['', 'two words', 'n'.repeat(65), '<b>', 'é']) {
      assert.throws(() => settings(['--name', bad]), (err: unknown) => err instanceof UsageError && err.message.startsWith('--name '), JSON.stringify(bad))
    }
  })

  it('--help wins over everything else', () => {
    assert.deepEqual(resolveStartSettings(['--fanout', 'x', '--help'], {}), { help: true })
  })

  it('docs/cli.md has a row for every setting, with its flag and variable', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/cli.md'), 'utf8')
    for (const name of ['config', ...SETTINGS.map((s) => s.name)]) {
      assert.ok(doc.includes(`\`--${name}`), `docs/cli.md lacks --${name}`)
      assert.ok(doc.includes(`\`${envName(name)}\``), `docs/cli.md lacks ${envName(name)}`)
    }
  })
})
