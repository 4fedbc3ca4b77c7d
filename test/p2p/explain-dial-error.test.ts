// explainDialError(): each way a dial to a bootstrap address fails becomes one line that
// names the address, what happened and what to check (libp2p's error kept as the cause).
// The real failures are shown end to end in test/swarm/diagnostics.test.ts and
// test/cli/diagnostics-netns.test.ts; this table covers the ones a test host cannot make.
import assert from 'node:assert/strict'
import { explainDialError } from '../../src/p2p/bootstrap-keeper.js'
import type { DialStage } from '../../src/p2p/bootstrap-keeper.js'

const ADDRESS = '/ip4/10.0.0.5/tcp/4001/p2p/12D3KooWGRUVh2Bnd4U4ffEXmSyBFfGQyxZBv8TikjjUZD1yD5Q7'

function error (name: string, message: string, code?: string): Error {
  const err = new Error(message)
  err.name = name
  if (code !== undefined) Object.assign(err, { code })
  return err
}

const KEY = 'most likely a different swarm key on each side, or a key on one side only \\(check swarmKeyFile, --swarm-key\\)'

const CASES: Array<[string, Error, DialStage | undefined, RegExp]> = [
  ['refused', error('Error', 'connection error 10.0.0.5:4001: connect ECONNREFUSED 10.0.0.5:4001', 'ECONNREFUSED'), undefined, /: connection refused \(ECONNREFUSED\): nothing listens on that port/],
  ['no route', error('Error', 'connect EHOSTUNREACH', 'EHOSTUNREACH'), undefined, /: unreachable \(EHOSTUNREACH\): no route to that host from here$/],
  ['no network', error('Error', 'connect ENETUNREACH', 'ENETUNREACH'), undefined, /: unreachable \(ENETUNREACH\)/],
  ['a name that does not resolve', error('Error', 'getaddrinfo ENOTFOUND', 'ENOTFOUND'), undefined, /: the name does not resolve \(ENOTFOUND\)$/],
  ['another peer id', error('UnexpectedPeerError', 'Unexpected peer'), 'connected', /: a node answered, but with another peer id: the address's \/p2p\/ part is out of date/],
  ['refused by this node', error('DialDeniedError', 'The dial request is blocked by gater.allowDialPeer'), undefined, /: refused by this node itself \(The dial request is blocked by gater\.allowDialPeer\): that peer is in quarantine here, not on the allowlist, or being dialled again only after a back-off \(a connection to it closed before identify, which is how a refusal looks\)$/],
  ['closed after Noise', error('UnexpectedEOFError', 'unexpected end of input'), 'encrypted', /: the node there closed the connection after the handshake \(unexpected end of input\): this node is probably not on its allowlist/],
  ['no answer', error('TimeoutError', 'The operation was aborted due to timeout'), undefined, /: no answer within 3000 ms \(timeout\): the host is down or unreachable, or a firewall drops the packets$/],
  ['a stalled handshake', error('TimeoutError', 'The operation was aborted due to timeout'), 'connected', new RegExp(`: connected, but the handshake did not complete within 3000 ms: ${KEY}, or the node there is too busy to answer$`)],
  ['garbage in Noise', error('EncryptionFailedError', 'Message length too long - 4787 > 1024'), undefined, new RegExp(`: the handshake failed: ${KEY}$`)],
  ['a reset in the handshake', error('Error', 'read ECONNRESET', 'ECONNRESET'), 'connected', new RegExp(`: the handshake failed: ${KEY}$`)],
  ['anything else', error('Error', 'something new\nwith a second line'), undefined, /: something new$/]
]

describe('explainDialError()', () => {
  for (const [what, err, reached, expected] of CASES) {
    it(`${what}: names the address and the cause`, () => {
      const explained = explainDialError(err, { address: ADDRESS, reached, timeoutMs: 3000 })
      assert.ok(explained.message.startsWith(`${ADDRESS}: `), explained.message)
      assert.match(explained.message, expected)
      assert.equal(explained.cause, err)
      assert.doesNotMatch(explained.message, /Message length|aborted due to timeout/)
    })
  }

  it('an AggregateError of several addresses is explained by its first error', () => {
    const inner = error('Error', 'connect ECONNREFUSED', 'ECONNREFUSED')
    const explained = explainDialError(new AggregateError([inner], 'All multiaddr dials failed'), { address: ADDRESS, timeoutMs: 3000 })
    assert.match(explained.message, /connection refused \(ECONNREFUSED\)/)
  })
})
