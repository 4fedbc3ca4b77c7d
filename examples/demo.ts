import '../src/platform/promise-with-resolvers.js'
// The main demo (npm run demo): a 3-node swarm on this machine, joined by a bootstrap
// chain (node 2 knows node 1, node 3 knows node 2). Node 1 serves one downstream pipe per
// producer (fan-out 1), so node 3 receives through node 2, a relay.
// - A synthetic RTP publisher (audio + video) on node 1 is pulled by nodes 2 and 3; every
//   second the demo prints the packets received on each node.
// - Each node serves its status page, and browser signalling; the demo page publishes a
//   camera and microphone on node 1 and watches them on node 3.
// Usage: npm run demo [-- --seconds N]   (default: until Ctrl-C)
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { startNodeService } from '../src/cli/node-service.js'
import { createRtpSink, createRtpSource } from '../test/harness/index.js'
import { startDemoPage } from './demo-page.js'
import type { NodeService } from '../src/cli/node-service.js'
import type { types as ms } from 'mediasoup'
import type { RtpSink, RtpSource } from '../test/harness/index.js'

/** A node as the binary runs it (status page, metrics, browser signalling), fan-out 1. */
async function startDemoNode (bootstrap: string[]): Promise<NodeService> {
  return await startNodeService({
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, fanout: 1 },
    http: { host: '127.0.0.1', port: 0 },
    signalling: { listenIp: '127.0.0.1', port: 0 }
  })
}

function parseSeconds (): number {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } } })
  if (values.seconds === undefined) return Infinity
  const seconds = Number(values.seconds)
  if (!Number.isInteger(seconds) || seconds <= 0) throw new TypeError(`--seconds must be a positive integer (got "${values.seconds}")`)
  return seconds
}

async function main (): Promise<void> {
  const seconds = parseSeconds()
  const interrupted = new AbortController()
  process.once('SIGINT', () => interrupted.abort())
  process.once('SIGTERM', () => interrupted.abort())

  const services: NodeService[] = []
  const sources: RtpSource[] = []
  const sinks: Array<{ node: number, sink: RtpSink }> = []
  let page: Awaited<ReturnType<typeof startDemoPage>> | undefined
  try {
    for (let i = 0; i < 3; i++) services.push(await startDemoNode(i === 0 ? [] : services[i - 1]!.node.multiaddrs))
    const [n1, n2, n3] = services as [NodeService, NodeService, NodeService]
    page = await startDemoPage(n1.signallingUrl!, n3.signallingUrl!, services.map((s) => `${s.httpUrl}/`))
    console.log('mediasoup-swarm demo: 3 nodes, bootstrap chain 1 <- 2 <- 3, fan-out 1')
    services.forEach((s, i) => console.log(`  node ${i + 1}  ${s.node.peerId}  status page ${s.httpUrl}/`))
    console.log(`  browser: open ${page.url} to publish your camera on node 1 and watch it on node 3`)

    // The synthetic publisher on node 1, pulled by node 2, then by node 3 (through node 2).
    // Each node's router is the one its browser signalling uses.
    const routerOf = (service: NodeService): ms.Router => service.node.routers()[0]!
    for (const kind of ['audio', 'video'] as const) sources.push(await createRtpSource({ router: routerOf(n1), kind }))
    for (const [index, service] of [[2, n2], [3, n3]] as const) {
      for (const source of sources) {
        await service.node.pipeToRouter({ producerId: source.producer.id, router: routerOf(service) })
        sinks.push({ node: index, sink: await createRtpSink({ router: routerOf(service), producerId: source.producer.id }) })
      }
    }
    const upstream = n3.node.getDistribution(sources[0]!.producer.id)?.upstream
    console.log(`  synthetic audio+video on node 1; node 3 receives it from ${upstream === n2.node.peerId ? 'node 2 (relay)' : upstream}`)

    const started = performance.now()
    for (let second = 1; second <= seconds; second++) {
      try {
        await sleep(Math.max(0, started + second * 1000 - performance.now()), undefined, { signal: interrupted.signal })
      } catch {
        break
      }
      const sent = sources.reduce((n, s) => n + s.sent, 0)
      const received = (node: number): number => sinks.filter((s) => s.node === node).reduce((n, s) => n + s.sink.packets, 0)
      console.log(`${String(second).padStart(4)} s  node 1 sent ${String(sent).padStart(6)}  |  node 2 received ${String(received(2)).padStart(6)}  |  node 3 received ${String(received(3)).padStart(6)}`)
    }
  } finally {
    for (const { sink } of sinks) sink.close()
    for (const source of sources) source.close()
    await page?.close()
    for (const service of services.reverse()) await service.stop()
  }
  console.log('stopped')
}

main().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
