// A room app across two node binaries: two `mediasoup-swarm start --signalling` processes
// (node 2 bootstraps from node 1) and a small app server that mints room tokens and serves
// a page. Each participant's page connects to one of the two nodes, publishes its camera
// into the room, lists the room's producers (swarm-wide: `listProducers { room }`), views
// them, and follows `newProducer` / `producerClosed`: participants on either node see each
// other. See README.md.
// Usage: npx tsx examples/room-app/main.ts [--room demo] [--seconds N]   (default: until Ctrl-C)
import '../../src/platform/promise-with-resolvers.js'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { createClientToken } from '../../src/index.js'
import type { ChildProcessByStdio } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'

const ROOT = path.resolve(import.meta.dirname, '../..')
/** The binary from this checkout's source; an installed package runs `mediasoup-swarm` instead. */
const BINARY = [process.execPath, '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')]
const START_LINE = /started: peer=(\S+) multiaddrs=(\S+) http=(\S+) signalling=(\S+)/

interface NodeProcess { child: ChildProcessByStdio<null, Readable, Readable>, multiaddrs: string[], statusUrl: string, signallingUrl: string }

/** Starts one node binary with browser signalling, on loopback, and waits for its start line. */
async function startNode (name: string, secret: string, bootstrap: string[]): Promise<NodeProcess> {
  const args = ['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--signalling', ...bootstrap.flatMap((b) => ['--bootstrap', b])]
  // The secret in the environment, not on the command line (other users can read those).
  const child = spawn(BINARY[0]!, [...BINARY.slice(1), ...args], { cwd: ROOT, env: { ...process.env, MEDIASOUP_SWARM_TOKEN_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { process.stderr.write(`[${name}] ${d.toString()}`) })
  const deadline = Date.now() + 150_000
  while (!START_LINE.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} did not start (exit ${child.exitCode}): ${out}`)
    }
    await sleep(50)
  }
  const [, , multiaddrs, statusUrl, signallingUrl] = START_LINE.exec(out)!
  return { child, multiaddrs: multiaddrs!.split(','), statusUrl: statusUrl!, signallingUrl: signallingUrl! }
}

async function stopNode (node: NodeProcess): Promise<void> {
  if (node.child.exitCode !== null) return
  const exited = new Promise((resolve) => node.child.once('exit', resolve))
  node.child.kill('SIGTERM')
  await exited
}

/** The browser helper (mediasoup-swarm/client) as one script defining `MediasoupSwarm.SwarmClient`. */
async function clientBundle (): Promise<string> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'src/client/index.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'MediasoupSwarm',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' }
  })
  return result.outputFiles[0]?.text ?? ''
}

/** The participant's page: join the room on one node, publish, view everyone else in the room. */
function page (nodeUrls: Record<string, string>): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>mediasoup-swarm room</title>
<style>body{font:15px system-ui,sans-serif;margin:1.5em;background:#f6f6f4;color:#222}
#people{display:flex;flex-wrap:wrap;gap:.75em}figure{margin:0}video{width:240px;background:#000}figcaption{font-size:13px;color:#555}</style></head>
<body><h1 id="title">room</h1><p id="status">joining…</p><div id="people"></div>
<script src="/client.js"></script>
<script>
const NODES = ${JSON.stringify(nodeUrls)}
const params = new URLSearchParams(location.search)
const room = params.get('room') ?? 'demo', name = params.get('name') ?? 'guest', node = params.get('node') ?? '1'
const seen = new Map()   // producer id → figure
function show (client, producer) {
  if (seen.has(producer.id) || producer.appData.name === name) return
  const figure = document.createElement('figure')
  figure.dataset.producer = producer.id
  figure.dataset.name = String(producer.appData.name)
  const video = document.createElement('video')
  video.autoplay = true; video.muted = true; video.playsInline = true
  figure.append(video, Object.assign(document.createElement('figcaption'), { textContent: producer.appData.name + ' (published on node ' + producer.appData.node + ')' }))
  document.getElementById('people').append(figure)
  seen.set(producer.id, figure)
  client.consume(producer.id).then((stream) => { video.srcObject = stream }, (err) => { figure.remove(); seen.delete(producer.id); console.warn(err) })
}
async function join () {
  document.getElementById('title').textContent = 'room ' + room + ' — ' + name + ' on node ' + node
  const token = await (await fetch('/token?room=' + encodeURIComponent(room) + '&name=' + encodeURIComponent(name))).text()
  const client = await MediasoupSwarm.SwarmClient.connect({ urls: [NODES[node]], token })
  const camera = (await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })).getVideoTracks()[0]
  const me = await client.publish(camera, { name, node })
  client.on('newproducer', ({ producer }) => show(client, producer))
  client.on('producerclosed', ({ producerId }) => { seen.get(producerId)?.remove(); seen.delete(producerId) })
  for (const producer of await client.listProducers(room)) show(client, producer)
  document.getElementById('status').textContent = 'publishing ' + me.producerId + ' on node ' + node
  window.roomClient = client
}
join().catch((err) => { document.getElementById('status').textContent = 'failed: ' + err.message; console.error(err) })
</script></body></html>`
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { room: { type: 'string', default: 'demo' }, seconds: { type: 'string' } } })
  const seconds = values.seconds === undefined ? Infinity : Number(values.seconds)
  if (!(seconds > 0)) throw new TypeError(`--seconds must be a positive number (got "${values.seconds}")`)
  const interrupted = new AbortController()
  process.once('SIGINT', () => interrupted.abort())
  process.once('SIGTERM', () => interrupted.abort())

  // The app and the nodes share the token secret: the app decides who joins which room.
  const secret = randomBytes(32).toString('base64url')
  const nodes: NodeProcess[] = []
  let server: http.Server | undefined
  try {
    nodes.push(await startNode('room-node-1', secret, []))
    nodes.push(await startNode('room-node-2', secret, nodes[0]!.multiaddrs))
    const script = await clientBundle()
    const html = page({ 1: nodes[0]!.signallingUrl, 2: nodes[1]!.signallingUrl })
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
      } else if (url.pathname === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
      } else if (url.pathname === '/token') {
        // A real app checks who asks first; here anyone joins the room they name.
        const room = url.searchParams.get('room') ?? ''
        const sub = url.searchParams.get('name') ?? 'guest'
        createClientToken({ secret, sub: sub.slice(0, 128) || 'guest', expiresInSeconds: 120, grants: { publish: true, consume: true, room } })
          .then((token) => res.writeHead(200, { 'content-type': 'text/plain' }).end(token), (err: Error) => res.writeHead(400).end(err.message))
      } else {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const app = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    console.log(`mediasoup-swarm room app: room "${values.room}" across two node binaries (node 2 bootstraps from node 1)`)
    nodes.forEach((n, i) => console.log(`  node ${i + 1}  status page ${n.statusUrl}  signalling ${n.signallingUrl}`))
    const room = encodeURIComponent(values.room)
    console.log(`  participant on node 1: ${app}?room=${room}&node=1&name=alice`)
    console.log(`  participant on node 2: ${app}?room=${room}&node=2&name=bob`)
    try {
      await sleep(seconds === Infinity ? 2 ** 31 - 1 : seconds * 1000, undefined, { signal: interrupted.signal })
    } catch {
      // interrupted
    }
  } finally {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
    for (const node of nodes.reverse()) await stopNode(node)
  }
  console.log('stopped')
}

main().catch((err) => {
  console.error(`room app: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
