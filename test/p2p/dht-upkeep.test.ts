// kad-dht's upkeep walks run every DHT_UPKEEP_INTERVAL_MS, not its 5-min default, and it
// keeps its DHT_K closest peers connected, not 20 (src/p2p/host.ts says why). Neither has a
// kad-dht option: the host sets the fields, and these tests fail if a kad-dht upgrade
// renames or drops them.
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, DHT_K, DHT_UPKEEP_INTERVAL_MS } from '../../src/p2p/host.js'

describe('DHT upkeep period', () => {
  it('the routing-table refresh and the self-query run every 30 min', async () => {
    const host = await createHost({
      privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], protocolPrefix: '/upkeep-test',
      addressPolicy: 'all', providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
    })
    const dht = host.services.dht as unknown as { routingTableRefresh: { refreshInterval: number }, querySelf: { interval: number } }
    assert.equal(DHT_UPKEEP_INTERVAL_MS, 30 * 60_000)
    assert.equal(dht.routingTableRefresh.refreshInterval, DHT_UPKEEP_INTERVAL_MS)
    assert.equal(dht.querySelf.interval, DHT_UPKEEP_INTERVAL_MS)
  })

  it(`keeps its ${DHT_K} closest peers connected (kad-dht's k), not 20`, async () => {
    const host = await createHost({
      privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], protocolPrefix: '/upkeep-test',
      addressPolicy: 'all', providerValidityMs: 60_000, reprovideIntervalMs: 15_000, dialTimeoutMs: 2000, maxConnections: 32
    })
    await host.start()
    try {
      const tagger = (host.services.dht as unknown as { routingTable: { closestPeerTagger: { peerSetSize: number, newPeers?: { capacity: number } } } }).routingTable.closestPeerTagger
      assert.equal(tagger.peerSetSize, DHT_K)
      // The list it keeps is made at start() with that size.
      assert.equal(tagger.newPeers?.capacity, DHT_K)
    } finally {
      await host.stop()
    }
  })
})
