import '../src/platform/promise-with-resolvers.js'
// The attacker of bench/signalling-floods.ts, in a process of its own so that making the
// flood does not slow the legitimate client being measured. Driven over stdio, one JSON
// line each way: a Flood in, a line saying what the target let through out; `close`
// terminates every flood connection (answered `closed`). Loopback targets only.
import { randomUUID } from 'node:crypto'
import readline from 'node:readline'
import { WebSocket } from 'ws'

export type Flood =
  | { kind: 'requests', url: string, address: string, count: number }
  | { kind: 'connections', url: string, addresses: string[], count: number }
  | { kind: 'transports', url: string, addresses: string[], connections: number, count: number }
  | { kind: 'lookups', url: string, addresses: string[], connections: number, count: number, rtpCapabilities: unknown }
  | { kind: 'close' }

/** A flood connection: counts replies by result and remembers how it closed. */
class FloodConnection {
  readonly replies = new Map<string, number>()
  readonly opened: Promise<boolean>
  closeCode: number | undefined
  /** The first transport this connection created. */
  transportId: string | undefined
  private readonly ws: WebSocket

  constructor (url: string, localAddress: string) {
    const ws = this.ws = new WebSocket(url, { localAddress })
    ws.on('message', (raw) => {
      const reply = JSON.parse(String(raw)) as { ok?: boolean, data?: { id?: unknown, iceParameters?: unknown }, error?: { name: string } }
      if (reply.ok === true && reply.data?.iceParameters !== undefined) this.transportId ??= reply.data.id as string
      const key = reply.ok === true ? 'ok' : reply.error?.name ?? 'other'
      this.replies.set(key, (this.replies.get(key) ?? 0) + 1)
    })
    ws.on('error', () => {})
    this.opened = new Promise((resolve) => {
      ws.once('close', (code) => { this.closeCode = code; resolve(false) })
      // A refused connection is closed right after the upgrade.
      ws.once('open', () => setTimeout(() => resolve(ws.readyState === WebSocket.OPEN), 100))
    })
  }

  get open (): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  send (count: number, request: () => Record<string, unknown>): void {
    for (let i = 0; i < count; i++) this.ws.send(JSON.stringify({ id: i + 1, ...request() }))
  }

  total (): number {
    return [...this.replies.values()].reduce((a, b) => a + b, 0)
  }

  close (): void {
    this.ws.terminate()
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

const live: FloodConnection[] = []

async function connections (url: string, addresses: readonly string[], count: number): Promise<FloodConnection[]> {
  const made = Array.from({ length: count }, (_, i) => new FloodConnection(url, addresses[i % addresses.length] as string))
  live.push(...made)
  await Promise.all(made.map(async (c) => await c.opened))
  return made
}

function replies (conns: readonly FloodConnection[]): string {
  const sums = new Map<string, number>()
  for (const c of conns) for (const [k, n] of c.replies) sums.set(k, (sums.get(k) ?? 0) + n)
  return [...sums].map(([k, n]) => `${k} ${n}`).join(', ')
}

/** `count` requests spread over `conns` as evenly as they go. */
function spread (conns: readonly FloodConnection[], count: number, request: (c: FloodConnection) => Record<string, unknown>): void {
  conns.forEach((c, i) => c.send(Math.floor(count / conns.length) + (i < count % conns.length ? 1 : 0), () => request(c)))
}

async function waitReplies (conns: readonly FloodConnection[], count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (conns.reduce((n, c) => n + c.total(), 0) < count && performance.now() < deadline) await sleep(20)
}

async function flood (f: Flood): Promise<string> {
  switch (f.kind) {
    case 'close':
      for (const c of live.splice(0)) c.close()
      return 'closed'
    case 'requests': {
      const [c] = await connections(f.url, [f.address], 1) as [FloodConnection]
      c.send(f.count, () => ({ method: 'listProducers' }))
      await waitReplies([c], f.count, 10_000)
      return `1 connection; replies: ${replies([c])}`
    }
    case 'connections': {
      const made = await connections(f.url, f.addresses, f.count)
      const closed = new Map<number, number>()
      for (const c of made) if (c.closeCode !== undefined) closed.set(c.closeCode, (closed.get(c.closeCode) ?? 0) + 1)
      return `${made.filter((c) => c.open).length} open; ${[...closed].map(([code, n]) => `${n} closed ${code}`).join(', ')}`
    }
    case 'transports': {
      const open = (await connections(f.url, f.addresses, f.connections)).filter((c) => c.open)
      spread(open, f.count, () => ({ method: 'createWebRtcTransport', data: { direction: 'recv' } }))
      await waitReplies(open, f.count, 10_000)
      return `${open.length} connections; replies: ${replies(open)}`
    }
    case 'lookups': {
      const open = (await connections(f.url, f.addresses, f.connections)).filter((c) => c.open)
      spread(open, open.length, () => ({ method: 'createWebRtcTransport', data: { direction: 'recv' } }))
      await waitReplies(open, open.length, 10_000)
      const withTransport = open.filter((c) => c.transportId !== undefined)
      spread(withTransport, f.count, (c) => ({ method: 'consume', data: { transportId: c.transportId, producerId: randomUUID(), rtpCapabilities: f.rtpCapabilities } }))
      // Refusals come at once; lookups that were admitted run on (up to the lookup timeout).
      await sleep(300)
      return `${open.length} connections; replies: ${replies(open)}`
    }
  }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  flood(JSON.parse(line) as Flood).then((result) => process.stdout.write(`${JSON.stringify({ result })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ error: err.message })}\n`))
})
lines.on('close', () => {
  for (const c of live) c.close()
  process.exit(0)
})
