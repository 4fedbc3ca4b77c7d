import assert from 'node:assert/strict'
import { WebSocket } from 'ws'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitFor, waitForEvent } from '../harness/index.js'
import type { NodeService } from '../../src/cli/node-service.js'

/** One request of the signalling over a fresh connection: the reply's `ok` and error name. */
async function requestOnce (url: string, method: string, data: Record<string, unknown>): Promise<{ ok: boolean, error?: string }> {
  const ws = new WebSocket(url)
  try {
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    const reply = new Promise<{ ok: boolean, error?: { name: string } }>((resolve) => ws.once('message', (raw) => resolve(JSON.parse(String(raw)))))
    ws.send(JSON.stringify({ id: 1, method, data }))
    const { ok, error } = await reply
    return { ok, error: error?.name }
  } finally {
    ws.close()
  }
}

// The binary's service with two workers: when one dies, the node replaces it, and the
// signalling must stop handing out the dead worker's router and serve on the new one.
describe('the node service when a worker dies (two workers, signalling on)', function () {
  this.timeout(30_000)
  let service: NodeService | undefined

  after(async () => { await service?.stop() })

  it('every new client gets a live router: the dead worker\'s leaves the rotation, the new worker joins it', async () => {
    service = await startNodeService({
      node: { listen: ['/ip4/127.0.0.1/tcp/0'], numWorkers: 2 },
      http: { host: '127.0.0.1', port: 0 },
      signalling: { listenIp: '127.0.0.1', port: 0 }
    })
    const node = service.node
    const replaced = waitForEvent(node, 'newworker', 10_000)
    const [dead] = node.workers()
    process.kill(dead!.pid, 'SIGKILL')
    await replaced
    // The new worker has its router and WebRtcServer once it has a router of its own.
    await waitFor(() => node.workers().every((w) => !w.closed) && node.routers().filter((r) => !r.closed).length >= 2, { timeoutMs: 5000, what: 'a router on the new worker' })
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await requestOnce(service.signallingUrl!, 'createWebRtcTransport', { direction: 'recv' }))
    assert.deepEqual(answers.filter((a) => !a.ok), [], 'clients answered with an error')
    assert.equal(node.workers().filter((w) => !w.closed).length, 2)
  })
})
