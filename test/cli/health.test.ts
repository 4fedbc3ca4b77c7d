// The probes /healthz and /readyz of the binary's HTTP side, and node.health() /
// node.readiness(), on real nodes: a node with a bootstrap address is ready once it has a
// peer; draining and a dead mediasoup worker make it not ready; with no worker left it is
// not alive either. The probes need no token even when /status does.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitFor } from '../harness/index.js'
import { killAll, run, startBinary } from './binary.js'
import type { Binary } from './binary.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { HealthReport } from '../../src/index.js'

interface Probe {
  status: number
  body: HealthReport<string> & { status: string }
}

async function probe (baseUrl: string, which: 'healthz' | 'readyz', headers: Record<string, string> = {}): Promise<Probe> {
  const res = await fetch(`${baseUrl.replace(/\/$/, '')}/${which}`, { headers })
  return { status: res.status, body: await res.json() as Probe['body'] }
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('health and readiness probes', function () {
  this.timeout(60_000)

  describe('the node service (in-process)', () => {
    const services: NodeService[] = []
    afterEach(async () => { await Promise.all(services.splice(0).map(async (s) => await s.stop())) })

    const start = async (numWorkers: number, bootstrap: string[] = []): Promise<NodeService> => {
      const service = await startNodeService({ node: { listen: ['/ip4/127.0.0.1/tcp/0'], numWorkers, bootstrap }, http: { host: '127.0.0.1', port: 0 } })
      services.push(service)
      return service
    }

    it('a node without bootstrap addresses is alive and ready once started; draining makes it not ready, still alive', async () => {
      const service = await start(1)
      const health = await probe(service.httpUrl, 'healthz')
      assert.equal(health.status, 200)
      assert.equal(health.body.status, 'ok')
      assert.deepEqual(Object.keys(health.body.checks), ['running', 'workers'])
      const ready = await probe(service.httpUrl, 'readyz')
      assert.equal(ready.status, 200, JSON.stringify(ready.body))
      assert.deepEqual(ready.body.failed, [])
      assert.deepEqual(Object.keys(ready.body.checks), ['running', 'workers', 'swarm', 'draining'])
      assert.match(ready.body.checks.swarm!.detail, /no bootstrap address/)

      await service.drain({ timeoutMs: 1000 })
      const drained = await probe(service.httpUrl, 'readyz')
      assert.equal(drained.status, 503)
      assert.equal(drained.body.status, 'fail')
      assert.deepEqual(drained.body.failed, ['draining'])
      assert.equal((await probe(service.httpUrl, 'healthz')).status, 200)
      assert.deepEqual(service.node.readiness().failed, ['draining'])
    })

    it('with two workers, a dead worker makes the node not ready until its replacement runs; it stays alive', async () => {
      const service = await start(2)
      const { node } = service
      assert.equal(node.readiness().ok, true)
      const [dead] = node.workers()
      const atDeath = new Promise<{ health: string[], readiness: string[] }>((resolve) => {
        node.once('workerdied', () => resolve({ health: node.health().failed, readiness: node.readiness().failed }))
      })
      process.kill(dead!.pid, 'SIGKILL')
      const seen = await atDeath
      assert.deepEqual(seen.readiness, ['workers'])
      assert.deepEqual(seen.health, [])
      await waitFor(async () => (await probe(service.httpUrl, 'readyz')).status === 200, { timeoutMs: 10_000, what: 'ready again with the replacement worker' })
      assert.match((await probe(service.httpUrl, 'readyz')).body.checks.workers!.detail, /^2 of 2 /)
    })

    it('with its only worker dead the node is neither alive nor ready (503 naming the failed checks)', async () => {
      const service = await start(1)
      const [worker] = service.node.workers()
      process.kill(worker!.pid, 'SIGKILL')
      await waitFor(async () => (await probe(service.httpUrl, 'healthz')).status === 503, { timeoutMs: 10_000, what: '/healthz 503' })
      const health = await probe(service.httpUrl, 'healthz')
      assert.deepEqual(health.body.failed.sort(), ['running', 'workers'])
      assert.match(health.body.checks.workers!.detail, /^0 of 1 /)
      const ready = await probe(service.httpUrl, 'readyz')
      assert.equal(ready.status, 503)
      assert.ok(ready.body.failed.includes('workers'), JSON.stringify(ready.body))
    })
  })

  describe('the binary', () => {
    let dir: string
    const binaries: Binary[] = []
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-health-')) })
    after(() => { fs.rmSync(dir, { recursive: true, force: true }) })
    afterEach(() => killAll(binaries))

    it('a node with a bootstrap address answers /readyz 503 (swarm) until it has joined, then 200; the probes need no token', async () => {
      const tokenFile = path.join(dir, 'http.token')
      fs.writeFileSync(tokenFile, 'a-long-enough-http-token\n')
      const keyFile = path.join(dir, 'a.key')
      const keygen = run(['keygen', keyFile])
      assert.equal(keygen.code, 0, keygen.stderr)
      const peerIdA = /peer id (\S+)/.exec(keygen.stdout)![1]!
      const port = await freePort()
      // B starts first: its bootstrap node is not up yet.
      const b = await startBinary(['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--http-token-file', tokenFile,
        '--bootstrap', `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdA}`], {}, { startTimeoutMs: 60_000 })
      binaries.push(b)
      assert.equal((await fetch(`${b.httpUrl}status`)).status, 401)
      const before = await probe(b.httpUrl, 'readyz')
      assert.equal(before.status, 503)
      assert.deepEqual(before.body.failed, ['swarm'])
      assert.match(before.body.checks.swarm!.detail, /no peer yet \(1 bootstrap address\)/)
      assert.equal((await probe(b.httpUrl, 'healthz')).status, 200)
      // Nothing that names a peer or an address.
      assert.doesNotMatch(JSON.stringify(before.body), new RegExp(`${peerIdA}|${port}|${b.peerId}`))

      const a = await startBinary(['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--http', '127.0.0.1:0', '--identity', keyFile], {}, { startTimeoutMs: 60_000 })
      binaries.push(a)
      assert.equal(a.peerId, peerIdA)
      // B's bootstrap keeper dials again after about 1 s, 2 s, 4 s…
      await waitFor(async () => (await probe(b.httpUrl, 'readyz')).status === 200, { timeoutMs: 20_000, what: 'B ready', progress: () => b.stderr() })
      const after = await probe(b.httpUrl, 'readyz')
      assert.deepEqual(after.body.failed, [])
      assert.match(after.body.checks.swarm!.detail, /connected to 1 peer/)
      const head = await fetch(`${b.httpUrl}readyz`, { method: 'HEAD' })
      assert.equal(head.status, 200)
    })
  })
})
