// An encrypter (Noise) whose messages reach TCP whole. @libp2p/tcp writes each chunk of what
// it is given with its own `socket.write`, and its sockets send at once (no Nagle): a Noise
// message is its length prefix, the encrypted Yamux header, the encrypted payload and the
// tag, written one by one: every request and every answer of the control plane left as two
// TCP segments or more (as many as the kernel did not merge), each handshake message as two.
// Given as one buffer, a message leaves as one segment: a request and its answer went from
// 4 data segments to 2, and from 6.1 packets and 512 bytes on the wire to 2.0 and 302
// (docs/benchmarks.md, section 6). The copy that joins the chunks is of control messages
// only: media never crosses libp2p.
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'

/** `encrypter`, whose connection (TCP, or the private network's stream over it) gets each message as one buffer. */
export function wholeWrites<C, E> (encrypter: (components: C) => ConnectionEncrypter<E>): (components: C) => ConnectionEncrypter<E> {
  return (components) => {
    const inner = encrypter(components)
    return {
      protocol: inner.protocol,
      secureOutbound: async (connection, options) => await inner.secureOutbound(joinChunks(connection), options),
      secureInbound: async (connection, options) => await inner.secureInbound(joinChunks(connection), options)
    }
  }
}

/** `connection`, whose `send` joins the chunks of a list into one buffer first. */
function joinChunks (connection: MessageStream): MessageStream {
  const send = connection.send.bind(connection)
  connection.send = (data: Parameters<MessageStream['send']>[0]): boolean => send(data instanceof Uint8Array ? data : data.subarray())
  return connection
}
