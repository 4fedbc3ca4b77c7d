// Noise's key exchanges without OpenSSL's DER decoding (src/p2p/noise-crypto.ts): the same
// shared secrets as the library's default crypto, whichever side made which key, so a node
// with it talks to any libp2p peer; a malformed public key is refused as before.
import assert from 'node:assert/strict'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { createLibp2p } from 'libp2p'
import { createHost } from '../../src/p2p/host.js'
import { noiseCrypto } from '../../src/p2p/noise-crypto.js'
import { waitFor } from '../harness/wait.js'
import type { Host } from '../../src/p2p/host.js'

describe('Noise key exchanges (src/p2p/noise-crypto.ts)', function () {
  this.timeout(20_000)

  it('derives the shared secret the library\'s default does, whichever side made which key pair', () => {
    fc.assert(fc.property(fc.boolean(), fc.boolean(), (oursA, oursB) => {
      const a = (oursA ? noiseCrypto : defaultCrypto).generateX25519KeyPair()
      const b = (oursB ? noiseCrypto : defaultCrypto).generateX25519KeyPair()
      const expected = Buffer.from(defaultCrypto.generateX25519SharedKey(a.privateKey, b.publicKey))
      assert.equal(expected.length, 32)
      assert.deepEqual(Buffer.from(noiseCrypto.generateX25519SharedKey(a.privateKey, b.publicKey)), expected)
      assert.deepEqual(Buffer.from(noiseCrypto.generateX25519SharedKey(b.privateKey, a.publicKey)), expected)
    }), { numRuns: 40 })
  })

  it('refuses a public key of the wrong length, as the default does', () => {
    const own = noiseCrypto.generateX25519KeyPair()
    const short = own.publicKey.subarray(0, 31)
    assert.throws(() => defaultCrypto.generateX25519SharedKey(own.privateKey, short))
    assert.throws(() => noiseCrypto.generateX25519SharedKey(own.privateKey, short))
  })

  it('a node\'s host and a libp2p peer on the default Noise connect and ping both ways', async () => {
    let host: Host | undefined
    const peer = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { ping: ping() }
    })
    try {
      host = await createHost({
        privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], protocolPrefix: '/noise-test',
        addressPolicy: 'all', providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
      })
      await host.start()
      // The node dials (its Noise the initiator), then the peer dials back on a connection of its own (the responder's turn).
      const rtt = await host.services.ping.ping(multiaddr(peer.getMultiaddrs()[0]!.toString()))
      assert.ok(rtt >= 0)
      await host.hangUp(peer.peerId)
      await waitFor(() => peer.getConnections(host!.peerId).length === 0, { timeoutMs: 5000, what: 'the peer\'s side of the first connection closed' })
      const back = await peer.services.ping.ping(multiaddr(host.getMultiaddrs()[0]!.toString()))
      assert.ok(back >= 0)
      assert.equal(peer.getConnections(host.peerId)[0]?.direction, 'outbound')
    } finally {
      await Promise.all([host?.stop(), peer.stop()])
    }
  })
})
