import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { startChain, stopAll, waitConnected } from '../harness/swarm.js'
import { pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import type { SwarmNode } from '../../src/index.js'

/**
 * TCP segments that carried data, both ways, on the connections to a node's listening port
 * (the kernel's own count: `ss`), and how many such sockets there are.
 */
function dataSegments (port: number): { segments: number, sockets: number } {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' })
  const counts = [...out.matchAll(/\bdata_segs_out:(\d+)/g)].map((m) => Number(m[1]))
  return { segments: counts.reduce((a, b) => a + b, 0), sockets: counts.length }
}

describe('whole writes (src/p2p/whole-writes.ts)', function () {
  this.timeout(30_000)
  let nodes: SwarmNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a request and its answer leave as one TCP segment each (two each when TCP got every Noise message in chunks)', async () => {
    nodes = await startChain(2)
    const [a, b] = nodes as [SwarmNode, SwarmNode]
    await waitConnected(nodes)
    // b bootstrapped from a: the connection is to a's port.
    const port = Number(/\/tcp\/(\d+)/.exec(a.multiaddrs[0]!)?.[1])
    const ask = async (): Promise<void> => {
      const answer = await request(a.libp2p, b.peerId, pipeProtocolId('/mediasoup-swarm'), { type: 'status' }, 3000)
      assert.equal(answer.type, 'status-ok')
    }
    // The stream to b is opened, and the first exchanges of a new connection are over.
    await ask()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = dataSegments(port)
    assert.equal(before.sockets, 2, 'both ends of the one connection are found by its port')
    const requests = 100
    for (let i = 0; i < requests; i++) await ask()
    const after = dataSegments(port)
    assert.equal(after.sockets, 2, 'still the one connection')
    const perRequest = (after.segments - before.segments) / requests
    // 2.0 measured (a ping between the peers meanwhile adds a little); 4.0 without whole writes.
    assert.ok(perRequest >= 2 && perRequest < 2.5, `data segments per request and answer: ${perRequest}`)
  })
})
