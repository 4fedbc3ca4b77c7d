// What a browser client is told when it consumes a producer the swarm does not have: a
// NotFound reply naming the producer once, at once and saying why when the node has no
// peers (rather than after the lookup timeout, "no provider record").
import assert from 'node:assert/strict'
import { WebSocket } from 'ws'
import { startNodeService } from '../../src/cli/node-service.js'
import type { NodeService } from '../../src/cli/node-service.js'

interface Reply { id: number, ok: boolean, data?: Record<string, unknown>, error?: { name: string, message: string } }

/** A signalling connection answering requests in order. */
async function connect (url: string): Promise<{ request: (method: string, data: Record<string, unknown>) => Promise<Reply>, close: () => void }> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  let nextId = 1
  const waiting = new Map<number, (reply: Reply) => void>()
  ws.on('message', (raw) => {
    const reply = JSON.parse(String(raw)) as Reply
    waiting.get(reply.id)?.(reply)
    waiting.delete(reply.id)
  })
  return {
    request: async (method, data) => {
      const id = nextId++
      const reply = new Promise<Reply>((resolve) => waiting.set(id, resolve))
      ws.send(JSON.stringify({ id, method, data }))
      return await reply
    },
    close: () => ws.close()
  }
}

describe('a client consumes a producer the swarm does not have', function () {
  this.timeout(30_000)
  let service: NodeService | undefined
  after(async () => { await service?.stop() })

  it('on a node with no peers: NotFound at once, saying the node has no peers, naming the producer once', async () => {
    service = await startNodeService({ node: { listen: ['/ip4/127.0.0.1/tcp/0'] }, http: { host: '127.0.0.1', port: 0 }, signalling: { listenIp: '127.0.0.1', port: 0 } })
    const client = await connect(service.signallingUrl!)
    try {
      const caps = await client.request('getRouterRtpCapabilities', {})
      assert.equal(caps.ok, true, JSON.stringify(caps))
      const transport = await client.request('createWebRtcTransport', { direction: 'recv' })
      assert.equal(transport.ok, true, JSON.stringify(transport))
      const started = performance.now()
      const reply = await client.request('consume', { transportId: transport.data!.id, producerId: 'p-unknown-42', rtpCapabilities: caps.data })
      const tookMs = performance.now() - started
      assert.equal(reply.ok, false)
      assert.equal(reply.error!.name, 'NotFound')
      assert.match(reply.error!.message, /^producer p-unknown-42 was not found in the swarm: this node has no peers and no bootstrap address/)
      assert.equal(reply.error!.message.split('p-unknown-42').length - 1, 1, reply.error!.message)
      assert.ok(tookMs < 1000, `answered after ${Math.round(tookMs)} ms`)
    } finally {
      client.close()
    }
  })
})
