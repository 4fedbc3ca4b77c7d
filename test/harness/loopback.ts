// The shared first step of the RTP source and sink: a UDP socket and a PlainTransport
// (RTP and RTCP on one port) on 127.0.0.1. On failure nothing is left open.
import dgram from 'node:dgram'
import { once } from 'node:events'
import type { types as ms } from 'mediasoup'

export interface LoopbackEnd {
  socket: dgram.Socket
  transport: ms.PlainTransport
}

/** `comedia`: the transport learns the socket's address from its first packet (a source). */
export async function openLoopbackEnd (router: ms.Router, comedia: boolean): Promise<LoopbackEnd> {
  const socket = dgram.createSocket('udp4')
  try {
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia })
    return { socket, transport }
  } catch (err) {
    socket.close()
    throw err
  }
}
