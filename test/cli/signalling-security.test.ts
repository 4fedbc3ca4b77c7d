// The binary's client security: `token` mints JWTs a node started with --token-secret
// accepts; bad token flags are one named line and exit code 2; signalling without a token
// secret on a non-loopback address needs --open-signalling; --allowed-origin refuses pages
// of other origins.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { WebSocket } from 'ws'
import { decodeJwt } from 'jose'
import { resolveStartSettings } from '../../src/cli/config.js'
import { UsageError } from '../../src/cli/errors.js'
import { parseDuration, tokenCommand } from '../../src/cli/token-command.js'
import { verifyClientToken, CLOSE_FORBIDDEN_ORIGIN, CLOSE_UNAUTHORIZED } from '../../src/signalling/index.js'
import { killAll, LOCAL, run, startBinary } from './binary.js'
import type { Binary } from './binary.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'

function assertUsage (r: { code: number | null, stdout: string, stderr: string }, message: RegExp): void {
  assert.equal(r.code, 2, `exit code ${r.code}; stderr:\n${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0]!, /^mediasoup-swarm: /)
  assert.match(lines[0]!, message)
  assert.equal(r.stdout, '')
}

/** Opens a WebSocket and resolves with its close code (1000 after a request answered). */
async function closeCode (url: string, origin?: string): Promise<number> {
  const ws = new WebSocket(url, origin === undefined ? {} : { origin })
  return await new Promise((resolve, reject) => {
    ws.once('error', reject)
    ws.once('close', (code) => resolve(code))
    ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities' })))
    ws.once('message', (raw) => {
      assert.equal((JSON.parse(String(raw)) as { ok: boolean }).ok, true)
      ws.close(1000)
    })
  })
}

describe('mediasoup-swarm token and signalling security flags', function () {
  this.timeout(60_000)
  let dir: string
  let secretFile: string
  const binaries: Binary[] = []

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-token-'))
    secretFile = path.join(dir, 'secret')
    fs.writeFileSync(secretFile, `${SECRET}\n`)
  })
  after(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  afterEach(() => killAll(binaries))

  it('token prints a JWT with sub, exp = now + ttl and the grants, signed with the secret file\'s first line', async () => {
    const r = run(['token', '--secret-file', secretFile, '--sub', 'alice', '--room', 'a', '--consume', '--ttl', '10m'])
    assert.equal(r.code, 0, r.stderr)
    const token = r.stdout.trim()
    const check = await verifyClientToken(token, SECRET)
    assert.ok(check.ok, JSON.stringify(check))
    assert.equal(check.claims.sub, 'alice')
    assert.deepEqual(check.claims.grants, { consume: true, room: 'a' })
    assert.equal(check.claims.exp - (check.claims.iat as number), 600)
    assert.ok(Math.abs((check.claims.iat as number) - Date.now() / 1000) < 30)
    const anonymous = decodeJwt(run(['token', '--secret-file', secretFile, '--publish', '--consume', '--ttl', '90']).stdout.trim())
    assert.match(anonymous.sub ?? '', /^[0-9a-f-]{36}$/, 'a random UUID when --sub is not given')
    assert.deepEqual(anonymous.grants, { publish: true, consume: true })
  })

  it('token --help prints its usage; the binary\'s help lists the command', () => {
    const help = run(['token', '--help'])
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /^usage: mediasoup-swarm token --secret-file <file> --ttl <duration>/)
    assert.match(run(['--help']).stdout, /\n {2}token {12}print a client token/)
  })

  it('parses --ttl durations', () => {
    assert.deepEqual(['90', '45s', '10m', '1.5h', '2d'].map(parseDuration), [90, 45, 600, 5400, 172_800])
    for (const bad of ['', '0', '10x', '-5', 'm', '1e3']) assert.throws(() => parseDuration(bad), UsageError, bad)
  })

  describe('bad token flags: a UsageError naming the problem (the binary: one line, exit code 2)', () => {
    it('the binary prints one line and exits 2', () => assertUsage(run(['token', '--consume', '--ttl', '1m']), /token needs --secret-file <file>/))

    const cases: Array<[string, () => string[], RegExp]> = [
      ['no --secret-file', () => ['token', '--consume', '--ttl', '1m'], /token needs --secret-file <file>/],
      ['no --ttl', () => ['token', '--secret-file', secretFile, '--consume'], /token needs --ttl <duration>/],
      ['a bad --ttl', () => ['token', '--secret-file', secretFile, '--consume', '--ttl', 'soon'], /--ttl must be a duration .*\(got "soon"\)/],
      ['neither --publish nor --consume', () => ['token', '--secret-file', secretFile, '--ttl', '1m'], /token needs --publish, --consume or both/],
      ['a missing secret file', () => ['token', '--secret-file', path.join(dir, 'none'), '--consume', '--ttl', '1m'], /--secret-file .*none: no such file/],
      ['a short secret', () => {
        fs.writeFileSync(path.join(dir, 'short'), 'x'.repeat(31))
        return ['token', '--secret-file', path.join(dir, 'short'), '--consume', '--ttl', '1m']
      }, /--secret-file .*short: the secret must be at least 32 characters/],
      ['an empty --room', () => ['token', '--secret-file', secretFile, '--consume', '--ttl', '1m', '--room='], /--room must be 1-128 characters/],
      ['an unknown flag', () => ['token', '--admin'], /unknown option --admin \(see mediasoup-swarm token --help\)/],
      ['a positional argument', () => ['token', 'please'], /token takes no argument "please"/],
      ['--ttl without a value', () => ['token', '--ttl'], /--ttl needs a value/]
    ]
    for (const [what, args, message] of cases) {
      it(what, async () => {
        await assert.rejects(tokenCommand(args().slice(1)), (err: unknown) => err instanceof UsageError && message.test(err.message))
      })
    }
  })

  describe('start: signalling flags', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['--signalling on a non-loopback address without --token-secret', ['--signalling', '--http', '0.0.0.0:0'],
        /--signalling on 0\.0\.0\.0 without --token-secret lets anyone who reaches it publish and consume: give --token-secret, or --open-signalling/],
      ['--allowed-origin that is not an origin', ['--allowed-origin', 'app.example'], /--allowed-origin must be an origin like https:\/\/app\.example \(got "app\.example"\)/],
      ['--allowed-origin with a path', ['--allowed-origin', 'https://app.example/page'], /--allowed-origin must be an origin/],
      ['--open-signalling with a value', ['--open-signalling=yes'], /--open-signalling takes no value/]
    ]
    for (const [what, args, message] of cases) {
      it(`refuses ${what}`, () => {
        assert.throws(() => resolveStartSettings(args, {}), (err: unknown) => err instanceof UsageError && message.test(err.message))
      })
    }
    it('the binary refuses signalling on a non-loopback address without a token secret: one line, exit 2', () => {
      assertUsage(run(['start', '--signalling', '--http', '0.0.0.0:0']), /without --token-secret/)
    })

    it('accepts signalling without a token secret on loopback, or with --open-signalling anywhere', () => {
      const settings = (args: string[]): unknown => resolveStartSettings(args, {})
      assert.doesNotThrow(() => settings(['--signalling']))
      assert.doesNotThrow(() => settings(['--signalling', '--http', '[::1]:7070']))
      assert.doesNotThrow(() => settings(['--signalling', '--http', '0.0.0.0:0', '--open-signalling']))
      assert.doesNotThrow(() => settings(['--signalling', '--http', '0.0.0.0:0', '--token-secret', SECRET]))
    })

    it('a node with --token-secret and --allowed-origin accepts a `token` token from an allowed page only, and counts refusals', async () => {
      const node = await startBinary([...LOCAL, '--signalling', '--allowed-origin', 'https://app.example', '--allowed-origin', 'http://localhost:8080'],
        { MEDIASOUP_SWARM_TOKEN_SECRET: SECRET })
      binaries.push(node)
      const token = run(['token', '--secret-file', secretFile, '--consume', '--ttl', '1m']).stdout.trim()
      const url = `${node.signallingUrl as string}?token=${token}`
      assert.equal(await closeCode(url, 'https://app.example'), 1000)
      assert.equal(await closeCode(url, 'http://localhost:8080'), 1000)
      assert.equal(await closeCode(url, 'https://evil.example'), CLOSE_FORBIDDEN_ORIGIN)
      assert.equal(await closeCode(url), CLOSE_FORBIDDEN_ORIGIN)
      assert.equal(await closeCode(node.signallingUrl as string, 'https://app.example'), CLOSE_UNAUTHORIZED)
      const metrics = await (await fetch(`${node.httpUrl}metrics`)).text()
      assert.match(metrics, /mediasoup_swarm_signalling_refusals_total\{reason="origin"\} 2/)
      assert.match(metrics, /mediasoup_swarm_signalling_refusals_total\{reason="unauthorized"\} 1/)
      assert.match(metrics, /mediasoup_swarm_signalling_refusals_total\{reason="request-rate"\} 0/)

    })
  })
})
