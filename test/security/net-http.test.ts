// The binary's HTTP endpoints (docs/security.md, "HTTP endpoints"): loopback by default;
// with --http-token-file, /status and /metrics answer 401 without the bearer token, the page
// and /ws do not ask for it.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { resolveStartSettings } from '../../src/cli/config.js'
import { killAll, run, startBinary } from '../cli/binary.js'
import type { Binary } from '../cli/binary.js'

const TOKEN = 'a-token-of-32-characters-for-it!'

describe('HTTP endpoints: loopback by default, a bearer token when bound elsewhere', function () {
  this.timeout(40_000)
  let dir: string
  const binaries: Binary[] = []

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-http-')) })
  afterEach(() => {
    killAll(binaries)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('--http defaults to loopback', () => {
    const parsed = resolveStartSettings([], {})
    assert.ok(!parsed.help)
    assert.deepEqual(parsed.settings.http, { host: '127.0.0.1', port: 7070 })
  })

  it('with --http-token-file on 0.0.0.0, /status and /metrics answer 401 without the token and 200 with it; / and /ws do not ask', async () => {
    const tokenFile = path.join(dir, 'token')
    fs.writeFileSync(tokenFile, `${TOKEN}\n`)
    const node = await startBinary(['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0.0.0.0:0', '--http-token-file', tokenFile, '--signalling'])
    binaries.push(node)
    assert.doesNotMatch(node.stderr(), /without --http-token-file/)
    const base = node.httpUrl.replace('0.0.0.0', '127.0.0.1')
    for (const route of ['status', 'metrics']) {
      for (const authorization of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
        const res = await fetch(`${base}${route}`, { headers: authorization === undefined ? {} : { authorization } })
        assert.equal(res.status, 401, `${route} with ${authorization ?? 'no header'}`)
        assert.equal(res.headers.get('www-authenticate'), 'Bearer')
      }
      const ok = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      assert.equal(ok.status, 200, route)
    }
    const status = await (await fetch(`${base}status`, { headers: { authorization: `bearer ${TOKEN}` } })).json() as { peerId: string }
    assert.equal(status.peerId, node.peerId)
    assert.equal((await fetch(base)).status, 200)
    // /ws is the signalling's: its upgrade is not behind the HTTP token.
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}ws`)
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.close()
  })

  it('a non-loopback --http without a token starts with a warning; a short or missing token file is refused', async () => {
    const node = await startBinary(['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0.0.0.0:0'])
    binaries.push(node)
    assert.match(node.stderr(), /HTTP on 0\.0\.0\.0 without --http-token-file: anyone who reaches it can read \/status and \/metrics/)
    assert.equal((await fetch(`${node.httpUrl.replace('0.0.0.0', '127.0.0.1')}status`)).status, 200)
    const short = path.join(dir, 'short')
    fs.writeFileSync(short, 'abc\n')
    const local = ['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0']
    assert.match(run([...local, '--http-token-file', short]).stderr, /--http-token-file .*short: the token must be at least 16 characters/)
    assert.match(run([...local, '--http-token-file', path.join(dir, 'none')]).stderr, /--http-token-file .*none: ENOENT/)
  })
})
