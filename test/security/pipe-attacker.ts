// A swarm member gone bad, on the pipe protocol: a bare libp2p host (TCP, Noise, Yamux,
// no DHT) that opens pipe-protocol streams to a node and writes what it likes: raw bytes,
// broken frames, floods of well-formed requests for random ids. It also serves the pipe
// protocol itself, counting what the node sends back to it (a recruit makes the node pull
// from its sender: reflection). Shared by test/security/pipe-floods.test.ts and
// bench/pipe-floods.ts.
import { randomUUID } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { identify } from '@libp2p/identify'
import { FrameStream, varint } from '../../src/protocol/framing.js'
import { decodeResponse, encodeFrame, MAX_MESSAGE_BYTES, pipeProtocolId } from '../../src/protocol/messages.js'
import { serve } from '../../src/protocol/rpc.js'
import type { Request } from '../../src/protocol/messages.js'
import type { Libp2p, Stream } from '@libp2p/interface'

export const PROTOCOL = pipeProtocolId('/mediasoup-swarm')
/** The swarm's DHT protocol: what makes a peer a member in the target's eyes. */
const MEMBER_PROTOCOL = '/mediasoup-swarm/kad/1.0.0'

export interface Target { peerId: string, multiaddrs: string[] }

/** One raw pipe-protocol stream to the target, and what came back on it. */
export interface RawSession {
  readonly stream: Stream
  /** Answers by type, or by code for error answers; `undecodable` for a broken answer. */
  readonly answers: Map<string, number>
  readonly answered: number
  /** Resolves when the stream ends (closed or reset by the target), with performance.now(). */
  readonly ended: Promise<number>
  /** Writes bytes as they are (waits while the stream's buffer is full). */
  send: (bytes: Uint8Array) => Promise<void>
  /** Writes one request frame (varint length, JSON with `id`). */
  request: (id: number, request: Request | Record<string, unknown>) => Promise<void>
}

export interface Attacker {
  readonly host: Libp2p
  readonly peerId: string
  /** Pipe-protocol requests the target sent to this attacker, by type (reflection). */
  readonly received: Map<string, number>
  /** Opens a stream; rejects if the target refuses it (too many streams). */
  open: () => Promise<RawSession>
  /** Stops the host (connections close). */
  stop: () => Promise<void>
}

/** A length-prefixed frame around `body`. */
export function frame (body: Uint8Array): Uint8Array {
  const prefix = varint(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
}

export async function createAttacker (target: Target): Promise<Attacker> {
  const host = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    // A member gone bad, not a stranger: it identifies with the swarm's DHT protocol, or the
    // target would close its connections after identify (src/p2p/peer-gate.ts).
    services: { identify: identify() }
  })
  await host.handle(MEMBER_PROTOCOL, (stream) => { stream.abort(new Error('not a DHT')) })
  const received = new Map<string, number>()
  // Answers every request `not-found`: a liar that has nothing it named.
  await serve(host, PROTOCOL, async (req) => {
    received.set(req.type, (received.get(req.type) ?? 0) + 1)
    return { type: 'error', code: 'not-found', message: 'nothing here' }
  }, () => {})
  await host.dial(target.multiaddrs.map((a) => multiaddr(a)))
  const targetId = peerIdFromString(target.peerId)

  const open = async (): Promise<RawSession> => {
    const stream = await host.dialProtocol(targetId, PROTOCOL, { signal: AbortSignal.timeout(5000) })
    const answers = new Map<string, number>()
    let answered = 0
    const frames = new FrameStream(stream, MAX_MESSAGE_BYTES)
    const ended = new Promise<number>((resolve) => stream.addEventListener('close', () => resolve(performance.now()), { once: true }))
    void (async () => {
      try {
        for (;;) {
          const bytes = await frames.read()
          let key: string
          try {
            // Not decodeResponseFrame(): an answer to a frame without a readable id has `"id": null`.
            const answer = decodeResponse(bytes)
            key = answer.type === 'error' ? answer.code : answer.type
          } catch {
            key = 'undecodable'
          }
          answered++
          answers.set(key, (answers.get(key) ?? 0) + 1)
        }
      } catch {
        // The stream ended: `ended` says when.
      }
    })()
    const send = async (bytes: Uint8Array): Promise<void> => {
      if (stream.status !== 'open') return
      if (!stream.send(bytes)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) }).catch(() => {})
    }
    return {
      stream,
      answers,
      get answered () { return answered },
      ended,
      send,
      request: async (id, req) => { await send(frame(encodeFrame(id, req as Request))) }
    }
  }
  return { host, peerId: host.peerId.toString(), received, open, stop: async () => { await host.stop() } }
}

export type FloodKind = 'pull' | 'locate' | 'recruit' | 'announce' | 'status' | 'move' | 'release' | 'close-pipe' | 'connect-pipe' | 'producer-event'

/** A well-formed request of `kind` naming random ids. */
export function randomRequest (kind: FloodKind, mediaIp: string): Request {
  const id = randomUUID()
  const endpoint = { pipeId: randomUUID(), ip: mediaIp, port: 9, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0' } }
  switch (kind) {
    case 'pull': return { type: 'pull', producerId: id, linkId: randomUUID(), rtts: {}, recruited: false, load: 0, capacity: 2000, offer: endpoint }
    case 'locate': return { type: 'locate', producerId: id, waitMs: 0 }
    case 'recruit': return { type: 'recruit', producerId: id }
    case 'announce': return { type: 'announce', producerIds: Array.from({ length: 16 }, () => randomUUID()), withdrawn: [] }
    case 'status': return { type: 'status', producerId: id }
    case 'move': return { type: 'move', producerId: id }
    case 'release': return { type: 'release', pipeId: randomUUID(), producerId: id }
    case 'close-pipe': return { type: 'close-pipe', pipeId: randomUUID() }
    case 'connect-pipe': return { type: 'connect-pipe', pipeId: randomUUID(), remote: endpoint }
    case 'producer-event': return { type: 'producer-event', pipeId: randomUUID(), producerId: id, event: 'close' }
  }
}

export interface FloodResult {
  sent: number
  answered: number
  /** Answers by type or error code, all streams together. */
  answers: Map<string, number>
  /** Streams the target would not open (past its per-connection limit). */
  refusedStreams: number
  /** Streams the target reset or closed during the flood. */
  endedStreams: number
  ms: number
}

/**
 * `count` well-formed requests of `kinds` (round robin) for random ids, spread over
 * `streams` streams opened at once, written as fast as the streams take them; waits for
 * the answers until `timeoutMs`.
 */
export async function flood (attacker: Attacker, options: { count: number, kinds: FloodKind[], streams: number, timeoutMs: number, mediaIp?: string }): Promise<FloodResult> {
  const started = performance.now()
  const opened = await Promise.allSettled(Array.from({ length: options.streams }, async () => await attacker.open()))
  const sessions = opened.flatMap((o) => o.status === 'fulfilled' ? [o.value] : [])
  if (sessions.length === 0) throw new Error('the target opened no stream')
  const sentOn = sessions.map(() => 0)
  await Promise.all(sessions.map(async (session, si) => {
    for (let i = si; i < options.count; i += sessions.length) {
      await session.request(i, randomRequest(options.kinds[i % options.kinds.length]!, options.mediaIp ?? '127.0.0.1'))
      sentOn[si]!++
    }
  }))
  const sent = sentOn.reduce((a, b) => a + b, 0)
  const answered = (): number => sessions.reduce((n, s) => n + s.answered, 0)
  const deadline = started + options.timeoutMs
  // Until every stream still open has all its answers.
  const waiting = (): boolean => sessions.some((s, si) => s.stream.status === 'open' && s.answered < sentOn[si]!)
  while (waiting() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const answers = new Map<string, number>()
  for (const s of sessions) for (const [k, n] of s.answers) answers.set(k, (answers.get(k) ?? 0) + n)
  // A stream past the target's limit opens on this side (the protocol is selected
  // optimistically) and is reset before any answer.
  const refused = sessions.filter((s) => s.answered === 0 && s.stream.status !== 'open').length
  const result = { sent, answered: answered(), answers, refusedStreams: options.streams - sessions.length + refused, endedStreams: sessions.filter((s) => s.stream.status !== 'open').length - refused, ms: performance.now() - started }
  for (const s of sessions) s.stream.abort(new Error('flood over'))
  return result
}
