// The node's live status page: one self-contained HTML document (no external assets) that
// polls /status every second and draws, as SVG:
// - this node in the middle of a star of its peers, the round-trip time on each link;
// - for every producer the node has, its whole tree from the origin (gathered from the
//   nodes on it: SwarmNode.producerTree()), bitrate and loss on every edge, each node's load.
// Boxes show node names; short peer ids and full ids are in their tooltips (<title>) and
// data-peer attributes. Layouts leave room for every box and label, so nothing overlaps
// however many peers or tree nodes there are. For tests and tools: boxes are
// data-role="node" (their <rect> data-role="box"), labels data-role="label", tree edges
// data-role="edge" with data-from / data-to peer ids, peer links data-role="peer-link".

export const STATUS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>mediasoup-swarm node</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;background:#fafaf8;color:#222}
h1{font-size:1.3em;margin:0 0 .2em}code{font-size:.9em}
.muted{color:#777}section{margin:1.2em 0;padding:.8em 1em;background:#fff;border:1px solid #ddd;border-radius:6px;overflow-x:auto}
svg text{font:12px system-ui,sans-serif}svg .name{font-weight:600}svg .label{font-size:11px}
table{border-collapse:collapse}td,th{padding:.15em .8em .15em 0;text-align:left}
</style></head>
<body>
<h1><span id="name">mediasoup-swarm node</span> <code id="self" class="muted"></code></h1>
<div class="muted" id="summary">loading…</div>
<section><b>Peers</b><div id="peer-graph"></div><table id="peers"></table></section>
<div id="producers"></div>
<script>
const short = (id) => id.startsWith('12D3KooW') ? id.slice(8, 16) : id.slice(0, 8)
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pct = (load, capacity) => capacity > 0 ? Math.round(100 * load / capacity) + '%' : '?'
const loadText = (load, capacity) => load === null || load === undefined ? 'load ?' : 'load ' + load + '/' + capacity + ' (' + pct(load, capacity) + ')'
const rttText = (ms) => ms === null || ms === undefined ? '? ms' : ms.toFixed(1) + ' ms'
const bitrateText = (bps) => bps < 1e3 ? Math.round(bps) + ' bps' : bps < 1e6 ? (bps / 1e3).toFixed(bps < 1e5 ? 1 : 0) + ' kbps' : (bps / 1e6).toFixed(2) + ' Mbps'
const lossText = (f) => (100 * f).toFixed(1) + '% loss'
// A name longer than a box is cut; the tooltip has it whole.
const fit = (s, n) => s.length > n ? s.slice(0, n - 1) + '…' : s
const W = 180, H = 60
// Room a label takes, one line of 11 px text: an edge's (~24 characters), an RTT's (~9).
const LABEL_W = 140, RTT_W = 64, LABEL_H = 16

function box (peerId, name, x, y, opts) {
  const fill = opts.self ? '#dbeafe' : opts.answered === false ? '#f7f7f7' : '#f1f1ee'
  const tip = (name ? name + '\\n' : '') + short(peerId) + ' · ' + peerId + (opts.tip ? '\\n' + opts.tip : '')
  return '<g data-role="node" data-peer="' + esc(peerId) + '"><title>' + esc(tip) + '</title>' +
    '<rect data-role="box" x="' + x + '" y="' + y + '" width="' + W + '" height="' + H + '" rx="6" fill="' + fill + '" stroke="#888"' +
    (opts.answered === false ? ' stroke-dasharray="4 3"' : '') + '/>' +
    '<text class="name" x="' + (x + 8) + '" y="' + (y + 17) + '">' + esc(fit(name || short(peerId), 22)) + '</text>' +
    opts.lines.map((l, i) => '<text x="' + (x + 8) + '" y="' + (y + 34 + 16 * i) + '" fill="#666">' + esc(fit(l, 26)) + '</text>').join('') + '</g>'
}

// A label centred on (cx, cy) on a white ground, so lines under it do not cross the text.
function label (cx, cy, text, attrs, w) {
  return '<g data-role="label"' + attrs + '><rect x="' + (cx - w / 2) + '" y="' + (cy - LABEL_H / 2) + '" width="' + w + '" height="' + LABEL_H +
    '" fill="#fff" fill-opacity=".9"/><text class="label" x="' + cx + '" y="' + (cy + 4) + '" text-anchor="middle" fill="#333">' + esc(text) + '</text></g>'
}

const MARKER = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>'

// How far a ray from a box's centre runs inside it.
function inside (cos, sin) {
  return Math.min(Math.abs(cos) > 1e-9 ? (W / 2) / Math.abs(cos) : Infinity, Math.abs(sin) > 1e-9 ? (H / 2) / Math.abs(sin) : Infinity)
}

// This node in the middle, its peers on a circle around it. The radius leaves room on
// every link for its RTT label between the two boxes (midway: r/2), keeps neighbouring
// boxes more than a box's diagonal apart (chord 2r·sin(π/n)) and neighbouring labels
// more than a label's diagonal apart (chord r·sin(π/n)).
function peerGraph (s) {
  const n = s.peers.length
  const sin = Math.sin(Math.PI / Math.max(n, 2))
  const r = n === 0 ? 0 : Math.max(W + RTT_W + 24, (Math.hypot(W, H) + 16) / (2 * sin), (Math.hypot(RTT_W, LABEL_H) + 12) / sin)
  const width = 2 * r + W + 20, height = 2 * r + H + 20
  const cx = width / 2, cy = height / 2
  let links = '', boxes = '', labels = ''
  s.peers.forEach((p, i) => {
    const a = 2 * Math.PI * i / n - Math.PI / 2
    const cos = Math.cos(a), sin = Math.sin(a)
    const x = cx + r * cos, y = cy + r * sin
    links += '<line data-role="peer-link" data-from="' + esc(s.peerId) + '" data-to="' + esc(p.peerId) + '" x1="' + cx + '" y1="' + cy + '" x2="' + x + '" y2="' + y + '" stroke="#999" stroke-width="2"/>'
    // Midway between where the link leaves this node's box and enters the peer's.
    const from = inside(cos, sin), to = r - inside(cos, sin)
    const m = (from + to) / 2
    labels += label(cx + m * cos, cy + m * sin, rttText(p.rttMs), ' data-peer="' + esc(p.peerId) + '" data-kind="rtt"', RTT_W)
    boxes += box(p.peerId, p.name, x - W / 2, y - H / 2, { lines: [short(p.peerId), (p.addresses[0] || '').split('/p2p/')[0]], tip: p.addresses.join('\\n') })
  })
  boxes += box(s.peerId, s.name, cx - W / 2, cy - H / 2, { self: true, lines: ['this node', loadText(s.load, s.capacity)] })
  return '<svg width="' + width + '" height="' + height + '" xmlns="http://www.w3.org/2000/svg">' + links + boxes + labels + '</svg>'
}

// The tree of a producer this node has no gathered tree for: its own part (route, downstream).
function localTree (p, s) {
  const nodes = p.route.map((peerId, i) => ({ peerId, name: peerId === s.peerId ? s.name : null, depth: i, answered: peerId === s.peerId, load: peerId === s.peerId ? s.load : null, capacity: s.capacity }))
  const edges = p.route.slice(1).map((to, i) => ({ from: p.route[i], to, bitrateBps: null, packetLossFraction: null }))
  for (const to of p.downstream) {
    nodes.push({ peerId: to, name: null, depth: p.route.length, answered: false, load: p.downstreamLoad[to]?.load ?? null, capacity: p.downstreamLoad[to]?.capacity ?? null })
    edges.push({ from: s.peerId, to, bitrateBps: null, packetLossFraction: null })
  }
  return { producerId: p.producerId, nodes, edges, complete: false, gatheredAt: null }
}

// An edge's figures: the tree's, else this node's own sample of that pipe (/status media).
function figures (edge, p, s) {
  if (edge.bitrateBps !== null) return edge
  const pipes = s.media?.pipes || []
  const own = edge.to === s.peerId ? pipes.find((q) => q.producerId === p.producerId && q.direction === 'in' && q.peerId === edge.from)
    : edge.from === s.peerId ? pipes.find((q) => q.producerId === p.producerId && q.direction === 'out' && q.peerId === edge.to) : undefined
  return own || edge
}

// Columns by depth (origin on the left); each leaf gets its own row and a parent sits in
// the middle of its children's rows, so boxes never share a place. Edges run right, then
// down or up between the columns, then right into the child: the child's label sits on
// that last, horizontal stretch, which no other edge uses.
function tree (p, s) {
  const t = p.tree || localTree(p, s)
  const byId = new Map(t.nodes.map((n) => [n.peerId, n]))
  const children = new Map()
  for (const e of t.edges) {
    if (!children.has(e.from)) children.set(e.from, [])
    children.get(e.from).push(e.to)
  }
  const GAP = LABEL_W + 44, ROW = H + 20
  const rowOf = new Map()
  let rows = 0
  const place = (id, seen) => {
    if (seen.has(id)) return
    seen.add(id)
    const kids = (children.get(id) || []).filter((k) => !seen.has(k))
    kids.forEach((k) => place(k, seen))
    const placed = kids.filter((k) => rowOf.has(k))
    rowOf.set(id, placed.length === 0 ? rows++ : (rowOf.get(placed[0]) + rowOf.get(placed[placed.length - 1])) / 2)
  }
  const seen = new Set()
  for (const n of t.nodes) if (!t.edges.some((e) => e.to === n.peerId)) place(n.peerId, seen)
  for (const n of t.nodes) place(n.peerId, seen)
  const depth = Math.max(0, ...t.nodes.map((n) => n.depth))
  const width = (depth + 1) * (W + GAP) - GAP + 20
  const height = Math.max(rows, 1) * ROW + 10
  const at = (id) => ({ x: 10 + byId.get(id).depth * (W + GAP), y: 10 + rowOf.get(id) * ROW })
  let edges = '', boxes = '', labels = ''
  for (const e of t.edges) {
    if (!byId.has(e.from) || !byId.has(e.to)) continue
    const a = at(e.from), b = at(e.to)
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2
    const bend = x1 + 24
    edges += '<path data-role="edge" data-from="' + esc(e.from) + '" data-to="' + esc(e.to) + '" d="M' + x1 + ',' + y1 + 'H' + bend + 'V' + y2 + 'H' + x2 +
      '" fill="none" stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>'
    const f = figures(e, p, s)
    const text = f.bitrateBps === null || f.bitrateBps === undefined ? 'no figures yet' : bitrateText(f.bitrateBps) + ' · ' + lossText(f.packetLossFraction)
    labels += label((bend + x2) / 2, y2 - LABEL_H / 2 - 2, text, ' data-from="' + esc(e.from) + '" data-to="' + esc(e.to) + '" data-kind="edge"', LABEL_W)
  }
  for (const n of t.nodes) {
    const { x, y } = at(n.peerId)
    const kids = children.get(n.peerId) || []
    const role = n.depth === 0 ? 'origin' : kids.length > 0 ? 'relay' : 'subscriber'
    const lines = [role + (n.peerId === s.peerId ? ' (this node)' : ''), n.answered === false ? 'no answer' : loadText(n.load, n.capacity)]
    const local = n.peerId === s.peerId && p.localConsumers !== null ? '\\n' + p.localConsumers + ' local consumer' + (p.localConsumers === 1 ? '' : 's') : ''
    boxes += box(n.peerId, n.name, x, y, { self: n.peerId === s.peerId, answered: n.answered, lines, tip: role + local })
  }
  return '<svg width="' + width + '" height="' + height + '" xmlns="http://www.w3.org/2000/svg">' + MARKER + edges + boxes + labels + '</svg>'
}

function treeNote (p) {
  if (!p.tree) return 'this node\\'s part only (the tree was not gathered)'
  const age = Math.max(0, Math.round((Date.now() - p.tree.gatheredAt) / 1000))
  return p.tree.nodes.length + ' nodes, gathered ' + age + ' s ago' + (p.tree.complete ? '' : ', incomplete: some nodes did not answer')
}

// With --http-token-file, open the page as /#token=<token>: a fragment is never sent to the server.
const token = new URLSearchParams(location.hash.slice(1)).get('token')
async function refresh () {
  try {
    const res = await fetch('status', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} })
    if (!res.ok) throw new Error('HTTP ' + res.status + (res.status === 401 ? ': open this page as /#token=<token>' : ''))
    const s = await res.json()
    document.title = s.name + ' · mediasoup-swarm'
    document.getElementById('name').textContent = s.name
    document.getElementById('self').textContent = short(s.peerId)
    document.getElementById('self').title = s.peerId + '\\n' + s.multiaddrs.join('\\n')
    document.getElementById('summary').textContent = 'load ' + s.load + ' / ' + s.capacity + ' points (' + pct(s.load, s.capacity) + ') · ' +
      s.peers.length + ' peers · pipes up ' + s.pipes.incomingPipes + ', down ' + s.pipes.outgoingPipes + ' · ' + s.producers.length + ' producers' +
      (s.version ? ' · version ' + s.version : '') + ' · updated ' + new Date().toLocaleTimeString()
    document.getElementById('peer-graph').innerHTML = peerGraph(s)
    document.getElementById('peers').innerHTML = '<tr><th>peer</th><th>id</th><th>RTT</th><th>address</th></tr>' + s.peers.map((p) =>
      '<tr><td>' + esc(p.name || '?') + '</td><td title="' + esc(p.peerId) + '"><code>' + esc(short(p.peerId)) + '</code></td><td>' + rttText(p.rttMs) +
      '</td><td><code>' + esc(p.addresses.join(' ')) + '</code></td></tr>').join('')
    document.getElementById('producers').innerHTML = s.producers.map((p) =>
      '<section data-role="producer" data-producer="' + esc(p.producerId) + '"><b>' + esc(p.kind ?? '') + ' producer</b> <code>' + esc(p.producerId) + '</code>' +
      (p.paused ? ' <span class="muted">(paused)</span>' : '') + ' <span class="muted">' + esc(treeNote(p)) + '</span><br>' + tree(p, s) + '</section>').join('') ||
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
