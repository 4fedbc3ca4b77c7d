// The demo's browser page: publish this browser's camera and microphone on node 1, watch
// them on node 3. It reuses the browser test page's script (test/browser/page, a small
// mediasoup-client app speaking docs/client-signalling.md), bundled in memory.
import http from 'node:http'
import { pageBundle } from '../test/browser/harness.js'
import type { AddressInfo } from 'node:net'

export interface DemoPage {
  url: string
  close: () => Promise<void>
}

function html (publishUrl: string, viewUrl: string, statusUrls: string[]): string {
  const links = statusUrls.map((u, i) => `<a href="${u}" target="_blank">node ${i + 1}</a>`).join(' · ')
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>mediasoup-swarm demo</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;background:#f6f6f4;color:#222}
button{font:inherit;padding:.5em 1em;margin-right:1em}#media video{width:320px;margin:.5em;background:#000}
#log{white-space:pre;color:#555}</style></head>
<body><h1>mediasoup-swarm demo</h1>
<p>Three nodes joined by a bootstrap chain. Your camera goes to node 1; node 3 gets it
through the swarm (via node 2 as a relay: node 1 has fan-out 1). Status pages: ${links}</p>
<p><button id="publish">1. Publish camera + mic on node 1</button><button id="view" disabled>2. Watch on node 3</button></p>
<div id="log"></div><div id="media"></div>
<script src="/page.js"></script>
<script>
const log = (line) => { document.getElementById('log').textContent += line + '\\n' }
let ids = []
document.getElementById('publish').onclick = async () => {
  const r = await window.swarmTest.publish(${JSON.stringify(publishUrl)}, { audio: true, video: true })
  ids = [r.audio, r.video].filter(Boolean)
  log('published on node 1: ' + ids.join(', '))
  document.getElementById('view').disabled = false
}
document.getElementById('view').onclick = async () => {
  await window.swarmTest.view(${JSON.stringify(viewUrl)}, ids)
  log('watching on node 3')
}
</script></body></html>`
}

/** Serves the demo page on 127.0.0.1 (a free port). */
export async function startDemoPage (publishUrl: string, viewUrl: string, statusUrls: string[]): Promise<DemoPage> {
  const script = await pageBundle()
  const server = http.createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html(publishUrl, viewUrl, statusUrls))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
