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

/** The parts of js-yamux this relies on: checked when a stream is made, so that an update of the library that renames them fails loudly. */
interface StreamInternals {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

interface MuxerInternals {
  _newStream: (...args: unknown[]) => YamuxStream
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
      const newStream = internals._newStream.bind(muxer)
      internals._newStream = (...args) => updateAtHalfWindow(newStream(...args))
      return muxer
    }
    return factory
  }
}

function updateAtHalfWindow (stream: YamuxStream): YamuxStream {
  const s = stream as unknown as StreamInternals
  if (typeof s.sendWindowUpdate !== 'function' || typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number') {
    throw new TypeError('@chainsafe/libp2p-yamux changed: its streams have no sendWindowUpdate / recvWindow / recvWindowCapacity (src/p2p/yamux-window.ts)')
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
