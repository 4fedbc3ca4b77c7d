// Starts two app servers on 127.0.0.1, as two machines would run them: two swarm nodes, the
// second joining the swarm through the first, each knowing the other's HTTP URL.
// Usage: npx tsx examples/embedded-app/main.ts [--port 3000]   (servers on 3000 and 3001)
import { startAppServer } from './server.js' // first: it loads the library (Node 20 shim)
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '3000' } } })
const port = Number(values.port)
if (!Number.isInteger(port) || port <= 0 || port > 65534) throw new Error(`bad --port ${values.port}`)

const first = await startAppServer({ port })
const second = await startAppServer({ port: port + 1, bootstrap: first.node.multiaddrs, peers: [first.url] })
first.addPeer(second.url)

console.log(`server 1: ${first.url}   swarm node ${first.node.peerId}`)
console.log(`server 2: ${second.url}   swarm node ${second.node.peerId}`)
console.log(`publish: ${first.url}/?room=demo&action=publish`)
console.log(`view:    ${second.url}/?room=demo&action=view   (Ctrl-C stops)`)

process.once('SIGINT', () => {
  void Promise.all([first.close(), second.close()]).then(() => process.exit(0))
})
