// The node's live status page: one self-contained HTML document (no external assets) that
// polls /status every second and draws, as SVG, this node and its peers (with RTT), and for
// every producer the node has its distribution tree: the route from the origin to this
// node, and the nodes this one sends it to, with their load. Short peer ids label the
// boxes; full ids are in data-peer attributes and titles. Edges of the trees carry
// data-role="edge" data-from/data-to peer ids, for tests and tools.

export const STATUS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>mediasoup-swarm node</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;background:#fafaf8;color:#222}
h1{font-size:1.3em;margin:0 0 .2em}code{font-size:.9em}
.muted{color:#777}section{margin:1.2em 0;padding:.8em 1em;background:#fff;border:1px solid #ddd;border-radius:6px}
svg text{font:12px system-ui,sans-serif}table{border-collapse:collapse}td,th{padding:.15em .8em .15em 0;text-align:left}
</style></head>
<body>
<h1>mediasoup-swarm node <code id="self"></code></h1>
<div class="muted" id="summary">loading…</div>
<section><b>Peers</b><div id="peer-graph"></div><table id="peers"></table></section>
<div id="producers"></div>
<script>
const short = (id) => id.startsWith('12D3KooW') ? id.slice(8, 16) : id.slice(0, 8)
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (load, capacity) => capacity > 0 ? Math.round(100 * load / capacity) + '%' : '?'
const loadText = (l) => l ? 'load ' + l.load + '/' + l.capacity + ' (' + pct(l.load, l.capacity) + ')' : 'load ?'
const W = 180, H = 58

function box (id, x, y, self, lines) {
  return '<g data-role="node" data-peer="' + esc(id) + '">' +
    '<rect x="' + x + '" y="' + y + '" width="' + W + '" height="' + H + '" rx="6" fill="' + (id === self ? '#dbeafe' : '#f1f1ee') + '" stroke="#888"/>' +
    '<text x="' + (x + 8) + '" y="' + (y + 17) + '"><title>' + esc(id) + '</title>' + esc(short(id)) + ' · ' + esc(lines[0]) + '</text>' +
    lines.slice(1).map((l, i) => '<text x="' + (x + 8) + '" y="' + (y + 34 + 16 * i) + '" fill="#666">' + esc(l) + '</text>').join('') + '</g>'
}

function arrow (role, from, to, x1, y1, x2, y2, label) {
  return '<line data-role="' + role + '" data-from="' + esc(from) + '" data-to="' + esc(to) + '" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 +
    '" stroke="#555" stroke-width="2"' + (role === 'edge' ? ' marker-end="url(#arrow)"' : '') + '/>' +
    (label ? '<text x="' + ((x1 + x2) / 2 + 4) + '" y="' + ((y1 + y2) / 2 - 4) + '" fill="#444">' + esc(label) + '</text>' : '')
}

const MARKER = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>'

// This node in the middle, its peers around it, RTT on the links.
function peerGraph (s) {
  const n = s.peers.length
  const r = n === 0 ? 0 : Math.max(110, n * 28)
  const width = 2 * r + W + 20, height = 2 * r + H + 20
  const cx = width / 2, cy = height / 2
  let links = '', boxes = ''
  s.peers.forEach((p, i) => {
    const a = 2 * Math.PI * i / n - Math.PI / 2
    const x = cx + r * Math.cos(a), y = cy + r * Math.sin(a)
    links += arrow('peer-link', s.peerId, p.peerId, cx, cy, x, y, p.rttMs === null ? '' : p.rttMs + ' ms')
    boxes += box(p.peerId, x - W / 2, y - H / 2, s.peerId, ['peer', (p.addresses[0] || '').split('/p2p/')[0]])
  })
  boxes += box(s.peerId, cx - W / 2, cy - H / 2, s.peerId, ['this node', loadText(s)])
  return '<svg width="' + width + '" height="' + height + '" xmlns="http://www.w3.org/2000/svg">' + links + boxes + '</svg>'
}

// Columns: the route (origin … this node), then the nodes this one sends the producer to.
function tree (p, self) {
  const route = p.route
  const down = p.downstream
  const GAP = 44
  const width = Math.max(route.length + (down.length ? 1 : 0), 1) * (W + GAP) + 20
  const height = Math.max(down.length, 1) * (H + 14) + 20
  const midY = (height - H) / 2
  let svg = '<svg width="' + width + '" height="' + height + '" xmlns="http://www.w3.org/2000/svg">' + MARKER
  route.forEach((id, i) => {
    const x = 10 + i * (W + GAP)
    let lines
    if (id === self) {
      const role = i === 0 ? 'origin (this node)' : down.length ? 'relay (this node)' : 'this node'
      lines = [role, loadText(p)]
      if (p.localConsumers !== null) lines.push(p.localConsumers + ' local consumer' + (p.localConsumers === 1 ? '' : 's'))
    } else {
      lines = [i === 0 ? 'origin' : 'relay']
    }
    svg += box(id, x, midY, self, lines)
    if (i > 0) svg += arrow('edge', route[i - 1], id, x - GAP, midY + H / 2, x - 2, midY + H / 2)
  })
  const x = 10 + route.length * (W + GAP)
  down.forEach((id, j) => {
    const y = 10 + j * (H + 14)
    svg += box(id, x, y, self, ['subscriber', loadText(p.downstreamLoad[id])])
    svg += arrow('edge', self, id, x - GAP, midY + H / 2, x - 2, y + H / 2)
  })
  return svg + '</svg>'
}

// With --http-token-file, open the page as /#token=<token>: a fragment is never sent to the server.
const token = new URLSearchParams(location.hash.slice(1)).get('token')
async function refresh () {
  try {
    const res = await fetch('status', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} })
    if (!res.ok) throw new Error('HTTP ' + res.status + (res.status === 401 ? ': open this page as /#token=<token>' : ''))
    const s = await res.json()
    document.getElementById('self').textContent = s.peerId
    document.getElementById('self').title = s.multiaddrs.join('\\n')
    document.getElementById('summary').textContent = 'load ' + s.load + ' / ' + s.capacity + ' points (' + pct(s.load, s.capacity) + ') · ' +
      s.peers.length + ' peers · pipes up ' + s.pipes.incomingPipes + ', down ' + s.pipes.outgoingPipes + ' · ' + s.producers.length + ' producers' +
      (s.version ? ' · version ' + s.version : '') + ' · updated ' + new Date().toLocaleTimeString()
    document.getElementById('peer-graph').innerHTML = peerGraph(s)
    document.getElementById('peers').innerHTML = '<tr><th>peer</th><th>RTT</th><th>address</th></tr>' + s.peers.map((p) =>
      '<tr><td title="' + esc(p.peerId) + '"><code>' + esc(short(p.peerId)) + '</code></td><td>' + (p.rttMs === null ? '?' : p.rttMs + ' ms') +
      '</td><td><code>' + esc(p.addresses.join(' ')) + '</code></td></tr>').join('')
    document.getElementById('producers').innerHTML = s.producers.map((p) =>
      '<section data-role="producer" data-producer="' + esc(p.producerId) + '"><b>' + esc(p.kind ?? '') + ' producer</b> <code>' + esc(p.producerId) + '</code>' +
      (p.paused ? ' <span class="muted">(paused)</span>' : '') + '<br>' + tree(p, s.peerId) + '</section>').join('') ||
      '<section class="muted">No producers on this node.</section>'
  } catch (err) {
    document.getElementById('summary').textContent = 'cannot reach the node: ' + err
  }
  setTimeout(refresh, 1000)
}
refresh()
</script>
</body></html>
`
