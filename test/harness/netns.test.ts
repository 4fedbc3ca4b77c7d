import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { waitFor } from './wait.js'
import { createNetwork, removeStale } from './netns.js'
import type { NetnsHost, NetnsNetwork } from './netns.js'

const run = promisify(execFile)
const PORT = 5004
const PACKET_BYTES = 1000

/**
 * Sends `count` UDP packets from host `from` to host `to` (a process in each namespace)
 * and answers how many arrived.
 */
async function udpProbe (from: NetnsHost, to: NetnsHost, count: number): Promise<number> {
  // Counts until its stdin closes (at most 10 s), then prints the count.
  const receiver = spawn('ip', ['netns', 'exec', to.netns, process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4'); let n = 0
    const end = () => { console.log(n); process.exit(0) }
    s.on('message', () => { n++ }); s.bind(${PORT}, '${to.ip}', () => console.log('ready'))
    process.stdin.on('end', end).resume(); setTimeout(end, 10000)`], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  receiver.stdout.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter((l) => l !== '')))
  const exited = once(receiver, 'exit')
  await waitFor(() => lines.includes('ready'), { timeoutMs: 10_000, what: 'the UDP receiver' })
  await run('ip', ['netns', 'exec', from.netns, process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4'); let i = 0
    const next = () => { if (i++ < ${count}) s.send(Buffer.alloc(${PACKET_BYTES}), ${PORT}, '${to.ip}', () => setTimeout(next, 2)); else s.close() }
    next()`], { timeout: 10_000 })
  // Packets still on the way get a moment.
  await new Promise((resolve) => setTimeout(resolve, 100))
  receiver.stdin.end()
  await exited
  return Number(lines.at(-1))
}

async function names (): Promise<string[]> {
  const namespaces = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!)
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
  return [...namespaces, ...links].filter((n) => n !== '')
}

describe('network namespace harness (root)', function () {
  this.timeout(30_000)
  let net: NetnsNetwork | undefined

  afterEach(async () => {
    await net?.cleanup()
    net = undefined
  })

  it('hosts reach each other over the bridge, and each host\'s traffic is counted on its link', async () => {
    net = await createNetwork(2)
    const [a, b] = net.hosts as [NetnsHost, NetnsHost]
    assert.notEqual(a.ip, b.ip)
    const [aBefore, bBefore] = await Promise.all([net.linkStats(a), net.linkStats(b)])
    assert.equal(await udpProbe(a, b, 50), 50)
    const [aAfter, bAfter] = await Promise.all([net.linkStats(a), net.linkStats(b)])
    assert.ok(aAfter.txBytes - aBefore.txBytes >= 50 * PACKET_BYTES, `A sent ${aAfter.txBytes - aBefore.txBytes} bytes`)
    assert.ok(bAfter.rxBytes - bBefore.rxBytes >= 50 * PACKET_BYTES, `B received ${bAfter.rxBytes - bBefore.rxBytes} bytes`)
    assert.ok(bAfter.rxPackets - bBefore.rxPackets >= 50)
    // B only answered ARP (and port unreachable, nothing listened after the probe): far less.
    assert.ok(bAfter.txBytes - bBefore.txBytes < 10 * PACKET_BYTES)
  })

  for (const how of ['drop', 'link-down'] as const) {
    it(`a cut host ('${how}') neither sends nor receives, and does both again once restored`, async () => {
      net = await createNetwork(2)
      const [a, b] = net.hosts as [NetnsHost, NetnsHost]
      await net.cut(b, how)
      assert.equal(await udpProbe(a, b, 20), 0, 'to the cut host')
      assert.equal(await udpProbe(b, a, 20), 0, 'from the cut host')
      await net.restore(b)
      // 'link-down': the kernel may take up to ~1 s to let the host send again.
      for (const [from, to] of [[a, b], [b, a]] as const) {
        await waitFor(async () => await udpProbe(from, to, 20) === 20, { timeoutMs: 10_000, what: `packets ${from.netns} → ${to.netns}` })
      }
    })
  }

  it('cleanup removes every namespace and link it made, and removeStale what dead runs left', async () => {
    net = await createNetwork(3)
    const made = [net.bridge, ...net.hosts.map((h) => h.netns)]
    assert.ok(made.every((n) => n.startsWith(`mss-${process.pid}-`)))
    await net.cleanup()
    net = undefined
    const left = await names()
    assert.deepEqual(made.filter((n) => left.includes(n)), [])

    // A namespace and a link named by a process that is gone now.
    const child = spawn(process.execPath, ['-e', ''])
    await once(child, 'exit')
    const stale = [`mss-${child.pid!}-a0`, `mss-${child.pid!}-abr`]
    await run('ip', ['netns', 'add', stale[0]!])
    await run('ip', ['link', 'add', stale[1]!, 'type', 'bridge'])
    // (Other dead runs' leftovers may go with them.)
    const removed = await removeStale()
    assert.deepEqual(stale.filter((n) => !removed.includes(n)), [])
    const after = await names()
    assert.deepEqual(stale.filter((n) => after.includes(n)), [])
  })
})
