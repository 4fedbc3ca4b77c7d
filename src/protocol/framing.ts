// Frames of the pipe protocol on a libp2p stream: an unsigned varint length, then that
// many bytes (docs/protocol.md#framing). Read here rather than with lpStream so that a
// peer's bytes cannot hold anything open or grow anything: a frame that has begun must
// end within the read deadline, a length prefix is at most 3 bytes, and what a peer sends
// ahead of the reader is buffered up to a bound, past which the stream is reset.
import { byteStream } from '@libp2p/utils'
import { ProtocolError } from '../errors.js'
import type { Stream } from '@libp2p/interface'

/** A frame that has begun (its first byte came) must be whole within this. */
export const FRAME_READ_TIMEOUT_MS = 5000
/** Bytes of a length prefix at most: 3 varint bytes encode up to 2 MiB, above any frame allowed. */
export const MAX_LENGTH_PREFIX_BYTES = 3
/**
 * Bytes a peer may send ahead of the reader (a reader waits while its peer has too many
 * requests under way): a few frames of the largest size. Past it the stream is reset.
 */
export const MAX_UNREAD_BYTES = 256 * 1024

/** The unsigned varint of `n` (a frame's length prefix). */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

export class FrameStream {
  private readonly bytes: ReturnType<typeof byteStream<Stream>>

  constructor (stream: Stream, private readonly maxFrameBytes: number, private readonly readTimeoutMs = FRAME_READ_TIMEOUT_MS) {
    this.bytes = byteStream(stream, { maxBufferSize: MAX_UNREAD_BYTES })
  }

  /**
   * The next frame. Waits as long as it takes for a frame to begin (a session idles between
   * requests), then `readTimeoutMs` for the rest of it. Throws ProtocolError `too-large`
   * for a length over the limit or a longer prefix, `bad-message` for a frame not whole in
   * time; `UnexpectedEOFError` (libp2p) when the stream ends.
   */
  async read (): Promise<Uint8Array> {
    let byte = (await this.bytes.read({ bytes: 1 })).get(0)
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new ProtocolError('bad-message', `incomplete frame: not whole within ${this.readTimeoutMs} ms`)), this.readTimeoutMs)
    try {
      let length = 0
      for (let n = 1; ; n++) {
        length += (byte & 0x7f) * 2 ** (7 * (n - 1))
        if ((byte & 0x80) === 0) break
        if (n === MAX_LENGTH_PREFIX_BYTES) throw new ProtocolError('too-large', `length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`)
        byte = (await this.bytes.read({ bytes: 1, signal: deadline.signal })).get(0)
      }
      if (length > this.maxFrameBytes) throw new ProtocolError('too-large', `frame of ${length} bytes exceeds ${this.maxFrameBytes}`)
      if (length === 0) return new Uint8Array(0)
      return (await this.bytes.read({ bytes: length, signal: deadline.signal })).subarray()
    } finally {
      clearTimeout(timer)
    }
  }

  /** Writes frames in one piece (one muxer frame, one encryption, one system call). */
  async write (frames: Uint8Array[], signal: AbortSignal): Promise<void> {
    const prefixes = frames.map((f) => varint(f.byteLength))
    const out = new Uint8Array(frames.reduce((n, f, i) => n + prefixes[i]!.byteLength + f.byteLength, 0))
    let at = 0
    for (const [i, f] of frames.entries()) {
      out.set(prefixes[i]!, at)
      at += prefixes[i]!.byteLength
      out.set(f, at)
      at += f.byteLength
    }
    await this.bytes.write(out, { signal })
  }
}
