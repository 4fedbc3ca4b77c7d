// The node's live status page: one self-contained HTML document (no external assets)
// that polls /status every second and draws, for every producer the node has, its
// distribution tree as SVG: the route from the origin to this node, and the nodes this one
// sends it to, with their load. Edges carry data-from/data-to peer ids for tests and tools.

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
<section><b>Peers</b><table id="peers"></table></section>
<div id="producers"></div>
<script>
const short = (id) => id.startsWith('12D3KooW') ? id.slice(8, 16) : id.slice(0, 8)
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (load, capacity) => capacity > 0 ? Math.round(100 * load / capacity) + '%' : '?'

function tree (p, self) {
  // Columns: the route (origin … this node), then this node's downstream nodes.
  const route = p.route
  const down = p.downstream
  const W = 150, H = 46, GAP = 40
  const width = Math.max(route.length + (down.length ? 1 : 0), 1) * (W + GAP) + 20
  const height = Math.max(down.length, 1) * (H + 14) + 20
  const box = (id, x, y, role, extra) => '<g data-role="node" data-peer="' + esc(id) + '">' +
    '<rect x="' + x + '" y="' + y + '" width="' + W + '" height="' + H + '" rx="6" fill="' + (id === self ? '#dbeafe' : '#f1f1ee') + '" stroke="#888"/>' +
    '<text x="' + (x + 8) + '" y="' + (y + 18) + '"><title>' + esc(id) + '</title>' + esc(short(id)) + ' · ' + role + '</text>' +
    '<text x="' + (x + 8) + '" y="' + (y + 36) + '" fill="#666">' + esc(extra) + '</text></g>'
  const edge = (from, to, x1, y1, x2, y2) => '<line data-role="edge" data-from="' + esc(from) + '" data-to="' + esc(to) + '" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '" stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>'
  let svg = '<svg width="' + width + '" height="' + height + '" xmlns="http://www.w3.org/2000/svg">' +
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>'
  const midY = (height - H) / 2
  route.forEach((id, i) => {
    const x = 10 + i * (W + GAP)
    const role = i === 0 ? 'origin' : (id === self ? 'this node' : 'relay')
    const extra = id === self ? 'load ' + p.load + '/' + p.capacity + ' (' + pct(p.load, p.capacity) + ')' : ''
    svg += box(id, x, midY, id === self && i > 0 ? (down.length ? 'relay (this node)' : 'this node') : role, extra)
    if (i > 0) svg += edge(route[i - 1], id, x - GAP, midY + H / 2, x - 2, midY + H / 2)
  })
  const x = 10 + route.length * (W + GAP)
  down.forEach((id, j) => {
    const y = 10 + j * (H + 14)
    const l = p.downstreamLoad[id]
    svg += box(id, x, y, 'subscriber', l ? 'load ' + l.load + '/' + l.capacity + ' (' + pct(l.load, l.capacity) + ')' : 'load ?')
    svg += edge(self, id, x - GAP, midY + H / 2, x - 2, y + H / 2)
  })
  return svg + '</svg>'
}

async function refresh () {
  try {
    const s = await (await fetch('status', { cache: 'no-store' })).json()
    document.getElementById('self').textContent = s.peerId
    document.getElementById('self').title = s.multiaddrs.join('\\n')
    document.getElementById('summary').textContent = 'load ' + s.load + ' / ' + s.capacity + ' points (' + pct(s.load, s.capacity) + ') · ' +
      s.peers.length + ' peers · pipes up ' + s.pipes.incomingPipes + ', down ' + s.pipes.outgoingPipes + ' · ' + s.producers.length + ' producers · updated ' + new Date().toLocaleTimeString()
    document.getElementById('peers').innerHTML = '<tr><th>peer</th><th>RTT</th></tr>' + s.peers.map((p) =>
      '<tr><td title="' + esc(p.peerId) + '"><code>' + esc(short(p.peerId)) + '</code></td><td>' + (p.rttMs === null ? '?' : p.rttMs + ' ms') + '</td></tr>').join('')
    document.getElementById('producers').innerHTML = s.producers.map((p) =>
      '<section data-role="producer" data-producer="' + esc(p.producerId) + '"><b>' + esc(p.kind ?? '') + ' producer</b> <code>' + esc(p.producerId) + '</code>' +
      (p.paused ? ' <span class="muted">(paused)</span>' : '') + '<br>' + tree(p, s.peerId) + '</section>').join('') ||
      '<section class="muted">No producers on this node.</section>'
  } catch (err) {
    document.getElementById('summary').textContent = 'cannot reach the node: ' + err
  }
}
refresh()
setInterval(refresh, 1000)
</script>
</body></html>
`
