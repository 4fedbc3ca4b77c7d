// Noise's X25519 without OpenSSL 3's key decoder. @chainsafe/libp2p-noise's default
// crypto hands every Diffie-Hellman its two keys as DER, which OpenSSL 3.0 (Debian 12's)
// decodes slowly (openssl/openssl#15199): 370 µs to import a private key, 80 µs a public
// one, against 35 µs for the exchange itself. A handshake is three exchanges per side, on
// the way of every new connection. Here the key pairs Noise makes keep their KeyObject
// (the private key never goes through DER), and a peer's public key is imported as a JWK
// (8 µs). The rest (ChaCha20-Poly1305, SHA-256, HKDF) is the library's default.
import crypto from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

/** The KeyObject of each private key this module made, by its raw bytes (the object Noise keeps). */
const privateKeyObjects = new WeakMap<Uint8Array, crypto.KeyObject>()

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  generateX25519KeyPair () {
    const { privateKey } = crypto.generateKeyPairSync('x25519')
    const jwk = privateKey.export({ format: 'jwk' })
    const pair = { publicKey: Buffer.from(jwk.x!, 'base64url'), privateKey: Buffer.from(jwk.d!, 'base64url') }
    privateKeyObjects.set(pair.privateKey, privateKey)
    return pair
  },
  generateX25519SharedKey (privateKey, publicKey) {
    const own = privateKey instanceof Uint8Array ? privateKeyObjects.get(privateKey) : undefined
    // A key not made here (a static key from a seed): the library's way.
    if (own === undefined) return defaultCrypto.generateX25519SharedKey(privateKey, publicKey)
    const x = Buffer.from(publicKey.subarray()).toString('base64url')
    return crypto.diffieHellman({ privateKey: own, publicKey: crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }) })
  }
}
