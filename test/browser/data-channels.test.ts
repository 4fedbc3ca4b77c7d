// Data channels across nodes, real browsers: a page opens a data channel on node A; pages
// on B and on C (through relay B: A serves one downstream pipe) receive its messages, all
// and in order, counted in the pages.
import assert from 'node:assert/strict'
import { startNodeService } from '../../src/cli/node-service.js'
import { waitFor } from '../harness/index.js'
import { waitConnected } from '../harness/swarm.js'
import { BrowserHarness } from './harness.js'
import type { NodeService } from '../../src/cli/node-service.js'
import type { DataPage } from './harness.js'

/** A node as the binary runs it, with browser signalling; fan-out 1 makes B a relay for C. */
async function startSite (bootstrap: string[]): Promise<NodeService> {
  return await startNodeService({
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, fanout: 1 },
    http: { host: '127.0.0.1', port: 0 },
    signalling: { listenIp: '127.0.0.1', port: 0 }
  })
}

describe('browsers: a data channel opened on node A reaches pages on B and on C (through relay B)', function () {
  this.timeout(90_000)
  const sites: NodeService[] = []
  let harness: BrowserHarness

  before(async () => {
    for (let i = 0; i < 3; i++) sites.push(await startSite(i === 0 ? [] : sites[i - 1]!.node.multiaddrs))
    await waitConnected(sites.map((s) => s.node))
    harness = await BrowserHarness.start()
  })

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`failure reports: ${(await harness.saveFailureReports(this.currentTest.fullTitle())).join(', ')}`)
    }
  })

  after(async () => {
    await harness?.close()
    for (const site of sites) await site.stop()
  })

  it('ordered messages sent by the page on A are all received, in order, by the pages on B and C', async () => {
    const [a, b, c] = sites as [NodeService, NodeService, NodeService]
    const sender = await harness.openDataPage()
    const dataProducerId = await sender.publishData(a.signallingUrl!, 'chat')
    assert.deepEqual(a.node.dataProducerIds(), [dataProducerId])

    const onB = await harness.openDataPage()
    await onB.consumeData(b.signallingUrl!, dataProducerId, 'm')
    const onC = await harness.openDataPage()
    await onC.consumeData(c.signallingUrl!, dataProducerId, 'm')
    assert.deepEqual(c.node.getDistribution(dataProducerId)?.route, [a.node.peerId, b.node.peerId, c.node.peerId])

    // Warm-up: the channels toward B and C are open at both ends once a probe got through.
    const receivers: DataPage[] = [onB, onC]
    await waitFor(async () => {
      await sender.sendData('probe-', 1)
      return (await Promise.all(receivers.map(async (p) => (await p.dataReport()).probes > 0))).every(Boolean)
    }, { timeoutMs: 15_000, intervalMs: 200, what: 'a probe message at B and C' })

    const total = 1000
    await sender.sendData('m', total)
    const expected = Array.from({ length: total }, (_, i) => `m${i}`)
    // Room for SCTP's retransmission timers (seconds, doubling): once, in a CI run, B's
    // page waited more than 20 s for the last 159 messages while C, behind B, had them all.
    let counts: number[] = []
    await waitFor(async () => {
      counts = await Promise.all(receivers.map(async (p) => (await p.dataReport()).messages.length))
      return counts.every((n) => n >= total)
    }, {
      timeoutMs: 45_000,
      intervalMs: 100,
      what: `${total} messages at B and C`,
      progress: () => `B has ${counts[0] ?? '?'}, C ${counts[1] ?? '?'}`
    })
    for (const page of receivers) assert.deepEqual((await page.dataReport()).messages, expected)
    // The page shows its count.
    const shown = await onC.page.textContent(`#data-${dataProducerId}`)
    assert.match(shown ?? '', new RegExp(`${total} messages, last m${total - 1}`))
    console.log(`      ${total} ordered messages at B and at C (through B)`)
  })

  it('an unknown data producer id is NotFound for the page, and no pipe is left', async () => {
    const [, , c] = sites as [NodeService, NodeService, NodeService]
    const before = sites.map((s) => s.node.pipeStats)
    const page = await harness.openDataPage()
    await assert.rejects(page.consumeData(c.signallingUrl!, '0b8e7f3c-0000-4000-8000-000000000000', 'x'), /NotFound|not found/)
    assert.deepEqual(sites.map((s) => s.node.pipeStats), before)
  })
})
