// A Sybil of an open swarm that lies about producers: a real SwarmNode (libp2p host, Noise,
// Kademlia DHT, identify: a member in everyone's eyes) whose pipe-protocol handler is
// replaced by one that lies, over the real framing. It claims producers it does not have
// (an `announce` to every node it is given, a DHT provider record for each) and answers
// their pulls with one kind of lie; as a home it names liars as providers. It counts the
// pulls it got, by requester: what test/security/sybil.test.ts checks the penalties against.
import { randomBytes, randomUUID } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createSwarmNode } from '../../src/index.js'
import { producerKey } from '../../src/directory/producer-directory.js'
import { FrameStream } from '../../src/protocol/framing.js'
import { decodeRequestFrame, encodeFrame, MAX_MESSAGE_BYTES, pipeProtocolId } from '../../src/protocol/messages.js'
import { request } from '../../src/protocol/rpc.js'
import type { SwarmNode, SwarmNodeOptions } from '../../src/index.js'
import type { PullRequest, Request, Response } from '../../src/protocol/messages.js'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = pipeProtocolId('/mediasoup-swarm')

/**
 * How a liar answers a pull of a producer it claimed:
 * - `hang`: never answers (keeps reading the stream)
 * - `garbage`: a frame with the request's id whose body is no valid answer
 * - `noise`: a frame of random bytes (no readable id: the session ends)
 * - `wrong-pipe`: a well-formed pull-ok whose pipe is connected to a transport the
 *   requester never offered
 * - `bad-params`: a well-formed pull-ok on the requester's own offer, pointing at a useless
 *   address, with RTP parameters mediasoup refuses
 * - `redirect`: a redirect to nodes that do not have the producer (`redirectTo`)
 * - `deny`: `not-found`, for a producer it announced
 */
export const LIES = ['hang', 'garbage', 'noise', 'wrong-pipe', 'bad-params', 'redirect', 'deny'] as const
export type Lie = typeof LIES[number]

export interface Liar {
  readonly node: SwarmNode
  readonly peerId: string
  readonly lie: Lie
  /** Pulls received (each answered with the lie), by requester peer id. */
  readonly pullsFrom: Map<string, number>
  /** Pulls received in all. */
  readonly pulls: number
  /** Claims `producerIds` to every node of `to` (`announce`); resolves with how many took it. */
  announce: (producerIds: string[], to: SwarmNode[]) => Promise<number>
  /** Claims `producerIds` in the DHT (provider records, walks of at most `timeoutMs`); resolves with the records stored. */
  provide: (producerIds: string[], timeoutMs: number) => Promise<number>
}

export interface LiarInit {
  lie: Lie
  /** The other liars (named as providers when this one is asked as a home). */
  liars: () => Liar[]
  /** For `redirect`: the nodes it names to `requester` for `producerId` (nodes that do not have it). */
  redirectTo: (requester: string, producerId: string) => SwarmNode[]
}

const USELESS_ENDPOINT = { ip: '127.0.0.1', port: 9, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0' } }

export async function createLiar (init: LiarInit, options: SwarmNodeOptions): Promise<Liar> {
  const node = await createSwarmNode({ ...options, openSwarm: true })
  const host = node.libp2p
  const peerId = node.peerId
  const pullsFrom = new Map<string, number>()
  let pulls = 0

  const answerPull = (req: PullRequest, requester: string): Response | 'hang' | 'noise' | 'garbage' => {
    switch (init.lie) {
      case 'hang':
      case 'noise':
      case 'garbage':
        return init.lie
      case 'deny':
        return { type: 'error', code: 'not-found', message: 'no such producer' }
      case 'redirect': {
        const candidates = init.redirectTo(requester, req.producerId)
        return { type: 'redirect', producerId: req.producerId, candidates: candidates.map((n) => ({ peerId: n.peerId, multiaddrs: n.multiaddrs.slice(0, 8) })) }
      }
      case 'wrong-pipe':
      case 'bad-params':
        return {
          type: 'pull-ok',
          producerId: req.producerId,
          kind: 'video',
          rtpParameters: init.lie === 'wrong-pipe'
            ? { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 1111 }] }
            : { codecs: [{ mimeType: 'video/nonsense', payloadType: 300, clockRate: -1 }] },
          paused: false,
          appData: {},
          pipe: { pipeId: randomUUID(), ...USELESS_ENDPOINT },
          ...(init.lie === 'wrong-pipe' ? { peerPipeId: randomUUID() } : req.offer === undefined ? {} : { peerPipeId: req.offer.pipeId }),
          route: [peerId],
          load: 0,
          capacity: 2000
        }
    }
  }

  const answer = (req: Request, requester: string): Response | 'hang' | 'noise' | 'garbage' => {
    switch (req.type) {
      case 'pull':
        return answerPull(req, requester)
      case 'locate':
        // As a home, it names liars only.
        return {
          type: 'providers',
          producerId: req.producerId,
          providers: init.liars().filter((l) => l.peerId !== peerId).slice(0, 16).map((l) => ({ peerId: l.peerId, multiaddrs: l.node.multiaddrs.slice(0, 8) }))
        }
      case 'status':
        return { type: 'status-ok', load: 0, capacity: 2000, has: false, pulling: false, downstream: 0, fanout: 4 }
      case 'announce':
      case 'connect-pipe':
      case 'release':
      case 'close-pipe':
        return { type: 'ok' }
      default:
        return { type: 'error', code: 'not-found', message: 'nothing here' }
    }
  }

  const session = async (stream: Stream, requester: string): Promise<void> => {
    const frames = new FrameStream(stream, MAX_MESSAGE_BYTES)
    const write = async (body: Uint8Array): Promise<void> => { await frames.write([body], AbortSignal.timeout(5000)) }
    try {
      for (;;) {
        const frame = decodeRequestFrame(await frames.read())
        if ('error' in frame) continue
        const { id, request: req } = frame
        if (req.type === 'pull') {
          pulls++
          pullsFrom.set(requester, (pullsFrom.get(requester) ?? 0) + 1)
        }
        const a = answer(req, requester)
        if (a === 'hang') continue
        if (a === 'noise') await write(randomBytes(40))
        else if (a === 'garbage') await write(new TextEncoder().encode(JSON.stringify({ id, type: 'pull-ok', producerId: 42, kind: 'smell' })))
        else await write(encodeFrame(id, a))
      }
    } catch {
      // The requester ended the session (or this liar's noise made it end it).
      stream.abort(new Error('session over'))
    }
  }

  // The node's own handler is replaced: from now on every pipe-protocol stream meets the liar.
  await host.unhandle(PROTOCOL)
  await host.handle(PROTOCOL, (stream, connection) => { void session(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 64, maxOutboundStreams: 32 })

  const announce = async (producerIds: string[], to: SwarmNode[]): Promise<number> => {
    for (const target of to) {
      await host.peerStore.merge(peerIdFromString(target.peerId), { multiaddrs: target.multiaddrs.map((a) => multiaddr(a)) })
    }
    // A dial that fails on a busy machine is tried again (three times at most).
    const sent = await Promise.all(to.map(async (target) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await request(host, target.peerId, PROTOCOL, { type: 'announce', producerIds, withdrawn: [] }, 10_000)
          return true
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
      return false
    }))
    return sent.filter((ok) => ok).length
  }

  const provide = async (producerIds: string[], timeoutMs: number): Promise<number> => {
    let stored = 0
    await Promise.all(producerIds.map(async (producerId) => {
      try {
        for await (const event of host.services.dht.provide(await producerKey(producerId), { signal: AbortSignal.timeout(timeoutMs) })) {
          if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
        }
      } catch {
        // A walk that ran out of time: what it stored stays stored, and the home records carry the lie anyway.
      }
    }))
    return stored
  }

  return {
    node,
    peerId,
    lie: init.lie,
    pullsFrom,
    get pulls () { return pulls },
    announce,
    provide
  }
}
