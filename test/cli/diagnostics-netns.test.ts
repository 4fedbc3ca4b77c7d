// Diagnostics that need other hosts (network namespaces, root): the start line lists the
// address other hosts reach first; a node whose media IP is loopback says so when a peer
// connects from another host; a bootstrap host whose packets vanish is named with the cause
// (no answer, the host is down or unreachable), not "The operation was aborted".
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { waitFor } from '../harness/index.js'
import { assertNetnsUsable, createNetwork } from '../harness/netns.js'
import { killAll, run, startBinary } from './binary.js'
import type { Binary } from './binary.js'
import type { NetnsHost, NetnsNetwork } from '../harness/netns.js'

describe('diagnostics across hosts (binaries in network namespaces)', function () {
  this.timeout(90_000)
  let net: NetnsNetwork | undefined
  let dir: string
  let swarmKey: string
  const binaries: Binary[] = []

  before(async function () {
    await assertNetnsUsable()
    net = await createNetwork(2)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-diag-netns-'))
    swarmKey = path.join(dir, 'swarm.key')
    const psk = run(['psk', swarmKey])
    assert.equal(psk.code, 0, psk.stderr)
  })
  afterEach(() => killAll(binaries))
  after(async () => {
    await net?.cleanup()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  /** A binary on `host`, listening on all its addresses, media IP left at its loopback default. */
  const startOn = async (host: NetnsHost, extra: string[] = []): Promise<Binary> => {
    const b = await startBinary(['--listen', '/ip4/0.0.0.0/tcp/4001', '--http', '127.0.0.1:0', '--swarm-key', swarmKey, '--log-level', 'info', ...extra], {}, { netns: host.netns, startTimeoutMs: 60_000 })
    binaries.push(b)
    return b
  }

  it('the start line lists the non-loopback address first; a loopback media IP is reported when a peer connects from another host', async () => {
    const [hostA, hostB] = net!.hosts as [NetnsHost, NetnsHost]
    const a = await startOn(hostA)
    assert.match(a.multiaddrs[0]!, new RegExp(`^/ip4/${hostA.ip.replace(/\./g, '\\.')}/tcp/4001/p2p/${a.peerId}$`))
    assert.ok(a.multiaddrs.some((m) => m.startsWith('/ip4/127.0.0.1/')), a.multiaddrs.join(','))
    const b = await startOn(hostB, ['--bootstrap', a.multiaddrs[0]!])
    const warning = (peerId: string, from: string): RegExp =>
      new RegExp(`mediasoup-swarm:node:pipes:warn peer ${peerId} connected from ${from.replace(/\./g, '\\.')}, another host, but this node's media IP is 127\\.0\\.0\\.1, a loopback address: no pipe between them can carry media .*set pipeListenIp / --media-ip`)
    await waitFor(() => warning(a.peerId, hostA.ip).test(b.stderr()), { timeoutMs: 20_000, what: 'B\'s warning', progress: () => b.stderr() })
    await waitFor(() => warning(b.peerId, hostB.ip).test(a.stderr()), { timeoutMs: 20_000, what: 'A\'s warning', progress: () => a.stderr() })
  })

  it('a bootstrap host whose packets vanish: the log names its address and says nothing answered', async () => {
    const [hostA, hostB] = net!.hosts as [NetnsHost, NetnsHost]
    const a = await startOn(hostA)
    const address = a.multiaddrs[0]!
    killAll(binaries)
    await net!.cut(hostA)
    try {
      const b = await startOn(hostB, ['--bootstrap', address])
      const line = new RegExp(`mediasoup-swarm:node:warn BootstrapError: could not join the swarm: no bootstrap node answered \\(1 address\\): ${address}: no answer within 3000 ms \\(timeout\\): the host is down or unreachable, or a firewall drops the packets; retrying in \\d+ s`)
      await waitFor(() => line.test(b.stderr()), { timeoutMs: 20_000, what: 'the BootstrapError line', progress: () => b.stderr() })
      assert.doesNotMatch(b.stderr(), /aborted due to timeout/)
    } finally {
      await net!.restore(hostA)
    }
  })
})
