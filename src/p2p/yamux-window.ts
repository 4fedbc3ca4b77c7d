// Yamux as libp2p's `yamux()` makes it, except when a stream grants its sender more room.
// js-yamux 8 sends a window update after every data frame it reads, so each request and
// each answer of the control plane cost the other side a second TCP segment and a second
// wake-up, only to hand back a few hundred bytes of a 256 KiB window. go-, rust- and
// py-yamux grant room once half of the window is used; the streams made here do the same.
// Both sides stay within the Yamux spec: a sender only ever waits for room when it used
// the whole window, and by then the receiver has sent an update.
import { yamux } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'
import type { YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { createLogger } from '../logger.js'

const log = createLogger('p2p:yamux')

/**
 * The parts of js-yamux this relies on, checked on every stream: if an update of the library
 * renamed them, its streams keep the library's own updates (a warning says so, and
 * test/p2p/yamux-window.test.ts fails).
 */
interface StreamInternals {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

interface MuxerInternals {
  _newStream?: (...args: unknown[]) => YamuxStream
}

/** `yamux(init)` whose streams send a window update only once half of their receive window is used. */
export function yamuxHalfWindowUpdates (init: YamuxMuxerInit): ReturnType<typeof yamux> {
  const make = yamux(init)
  return () => {
    const factory = make()
    const createStreamMuxer = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = (maConn) => {
      const muxer = createStreamMuxer(maConn)
      const internals = muxer as unknown as MuxerInternals
      if (typeof internals._newStream !== 'function') {
        libraryChanged('no _newStream on its muxers')
        return muxer
      }
      const newStream = internals._newStream.bind(muxer)
      internals._newStream = (...args) => updateAtHalfWindow(newStream(...args))
      return muxer
    }
    return factory
  }
}

let warned = false

function libraryChanged (what: string): void {
  if (!warned) log.warn('@chainsafe/libp2p-yamux has changed (%s): its streams send window updates as the library does, after every frame', what)
  warned = true
}

function updateAtHalfWindow (stream: YamuxStream): YamuxStream {
  const s = stream as unknown as StreamInternals
  if (typeof s.sendWindowUpdate !== 'function' || typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number') {
    libraryChanged('no sendWindowUpdate / recvWindow / recvWindowCapacity on its streams')
    return stream
  }
  const sendWindowUpdate = s.sendWindowUpdate.bind(stream)
  s.sendWindowUpdate = () => {
    // An established stream's update carries no flag (the first frame of a stream carries
    // SYN or ACK, and must go); a paused stream's is the library's own business.
    if (s.state === StreamState.Established && s.recvWindowCapacity > s.recvWindow / 2) return
    sendWindowUpdate()
  }
  return stream
}
