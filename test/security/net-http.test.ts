// The binary's HTTP endpoints (docs/security.md, "HTTP endpoints"): loopback by default;
// with a token (--http-token-file), /status and /metrics answer 401 without the bearer
// token, while the page and /ws do not ask for it.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { checkAccess, readTokenFile } from '../../src/cli/access.js'
import { resolveStartSettings } from '../../src/cli/config.js'
import { startNodeService } from '../../src/cli/node-service.js'
import { warningsOf } from '../harness/warnings.js'
import { killAll, startBinary } from '../cli/binary.js'
import type { Binary } from '../cli/binary.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { StartSettings } from '../../src/cli/config.js'

const TOKEN = 'a-token-of-32-characters-for-it!'

function settings (args: string[]): StartSettings {
  const parsed = resolveStartSettings(['--listen', '/ip4/127.0.0.1/tcp/0', ...args], {})
  assert.ok(!parsed.help)
  return parsed.settings
}

/** Asks /status and /metrics with every wrong header, then with the token. */
async function assertProtected (base: string): Promise<void> {
  for (const route of ['status', 'metrics']) {
    for (const authorization of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer']) {
      const res = await fetch(`${base}${route}`, { headers: authorization === undefined ? {} : { authorization } })
      assert.equal(res.status, 401, `${route} with ${authorization ?? 'no header'}`)
      assert.equal(res.headers.get('www-authenticate'), 'Bearer')
    }
    assert.equal((await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, route)
  }
}

describe('HTTP endpoints: loopback by default, a bearer token when bound elsewhere', function () {
  this.timeout(90_000)
  let dir: string
  const binaries: Binary[] = []
  const services: NodeService[] = []

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-http-')) })
  afterEach(async () => {
    killAll(binaries)
    await Promise.all(services.splice(0).map(async (s) => await s.stop()))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('--http defaults to loopback; a non-loopback one without a token is a warning; the token file is checked', () => {
    assert.deepEqual(settings([]).http, { host: '127.0.0.1', port: 7070 })
    assert.deepEqual(warningsOf(() => checkAccess(settings([]))), [])
    const warned = warningsOf(() => checkAccess(settings(['--http', '0.0.0.0:7070'])))
    assert.equal(warned.length, 1)
    assert.match(warned[0]!, /HTTP on 0\.0\.0\.0 without --http-token-file: anyone who reaches it can read \/status and \/metrics/)
    const file = path.join(dir, 'token')
    fs.writeFileSync(file, `  ${TOKEN}\n`)
    assert.deepEqual(warningsOf(() => assert.equal(checkAccess(settings(['--http', '0.0.0.0:7070', '--http-token-file', file])).httpToken, TOKEN)), [])
    fs.writeFileSync(file, 'abc\n')
    assert.throws(() => readTokenFile(file), /--http-token-file .*token: the token must be at least 16 characters/)
    assert.throws(() => readTokenFile(path.join(dir, 'none')), /--http-token-file .*none: ENOENT/)
  })

  it('with a token, /status and /metrics answer 401 without it and 200 with it; / and /ws do not ask', async () => {
    const service = await startNodeService({
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      http: { host: '0.0.0.0', port: 0, token: TOKEN },
      signalling: { listenIp: '127.0.0.1', port: 0 }
    })
    services.push(service)
    const base = `${service.httpUrl.replace('0.0.0.0', '127.0.0.1')}/`
    await assertProtected(base)
    const status = await (await fetch(`${base}status`, { headers: { authorization: `bearer ${TOKEN}` } })).json() as { peerId: string }
    assert.equal(status.peerId, service.node.peerId)
    assert.equal((await fetch(base)).status, 200)
    // /ws is the signalling's: its upgrade is not behind the HTTP token.
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}ws`)
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.close()
  })

  it('the binary with --http-token-file on 0.0.0.0 asks for the token', async () => {
    const tokenFile = path.join(dir, 'token')
    fs.writeFileSync(tokenFile, `${TOKEN}\n`)
    const node = await startBinary(['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '0.0.0.0:0', '--http-token-file', tokenFile])
    binaries.push(node)
    assert.doesNotMatch(node.stderr(), /without --http-token-file/)
    await assertProtected(node.httpUrl.replace('0.0.0.0', '127.0.0.1'))
  })
})
