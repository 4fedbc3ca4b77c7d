// Room grants with real browsers on two nodes run as the binary runs them (token secret set):
// a publisher page on A holding a room-"a" token; on B a viewer page with a room-"b" token is
// refused its producers (Forbidden; the copy B pulled to check is released), and a viewer
// page with a room-"a" token decodes them.
import assert from 'node:assert/strict'
import { startNodeService } from '../../src/cli/node-service.js'
import { createClientToken } from '../../src/signalling/token.js'
import { waitConnected } from '../harness/swarm.js'
import { waitFor } from '../harness/index.js'
import { BrowserHarness } from './harness.js'
import type { ClientGrants } from '../../src/signalling/token.js'
import type { NodeService } from '../../src/cli/node-service.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'

async function startSite (bootstrap: string[]): Promise<NodeService> {
  return await startNodeService({
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
    http: { host: '127.0.0.1', port: 0 },
    signalling: { listenIp: '127.0.0.1', port: 0, tokenSecret: SECRET }
  })
}

describe('browsers with room grants on two nodes: publisher in room "a" on A, viewers on B', function () {
  this.timeout(60_000)
  const sites: NodeService[] = []
  let harness: BrowserHarness

  before(async () => {
    for (let i = 0; i < 2; i++) sites.push(await startSite(i === 0 ? [] : sites[0]!.node.multiaddrs))
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

  const withToken = async (url: string, grants: ClientGrants): Promise<string> =>
    `${url}?token=${await createClientToken({ secret: SECRET, sub: 'page', expiresInSeconds: 60, grants })}`

  it('a room-"b" viewer is refused with Forbidden and leaves no pipe; a room-"a" viewer decodes video and receives audio', async () => {
    const [a, b] = sites as [NodeService, NodeService]
    const publisher = await harness.openPublisher(await withToken(a.signallingUrl!, { publish: true, room: 'a' }))
    assert.equal(publisher.producerIds.length, 2)

    await assert.rejects(harness.openViewer(await withToken(b.signallingUrl!, { consume: true, room: 'b' }), publisher.producerIds), /Forbidden/)
    await waitFor(() => b.node.pipeStats.incomingPipes === 0 && a.node.pipeStats.outgoingPipes === 0, { timeoutMs: 5000, what: 'the refused pull undone' })

    const viewer = await harness.openViewer(await withToken(b.signallingUrl!, { consume: true, room: 'a' }), publisher.producerIds)
    const report = await harness.waitForMediaFlowing(viewer)
    assert.ok((report.stats.find((s) => s.kind === 'video')?.framesDecoded ?? 0) > 0)
    assert.ok((report.stats.find((s) => s.kind === 'audio')?.packetsReceived ?? 0) > 0)
    for (const producerId of publisher.producerIds) assert.equal(b.node.getDistribution(producerId)?.upstream, a.node.peerId)
    console.log(`      room-"a" viewer on B: first frame ${report.firstFrameMs?.toFixed(0)} ms, ${report.fps} fps`)
  })
})
