import '../src/platform/promise-with-resolvers.js'
// What a new connection costs in CPU and time: two libp2p hosts in this process (TCP,
// Noise, Yamux, nothing else), one dialling the other, opening a stream, sending 100 bytes
// and reading them back, then hanging up; CYCLES times, CPU of the process (both ends) per
// cycle. Once with @chainsafe/libp2p-noise's default crypto, once with the node's
// (src/p2p/noise-crypto.ts: no DER key imports, which OpenSSL 3.0 decodes slowly). The
// first WARM_UP cycles of each are left out (V8 compiling the code paths).
import { setTimeout as sleep } from 'node:timers/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { formatTable } from '../test/harness/index.js'
import { heading, summary } from './common.js'
import { noiseCrypto } from '../src/p2p/noise-crypto.js'
import type { Benchmark } from './common.js'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { Libp2p } from '@libp2p/interface'

const CYCLES = 220
const WARM_UP = 20
const ECHO = '/connection-cost/echo/1.0.0'

async function host (crypto: ICryptoInterface | undefined): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise(crypto === undefined ? {} : { crypto })],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    // Hundreds of connections a minute from 127.0.0.1: libp2p's per-IP rate would refuse them.
    connectionManager: { inboundConnectionThreshold: Number.MAX_SAFE_INTEGER }
  })
}

async function measure (crypto: ICryptoInterface | undefined): Promise<{ cpuMs: number, ms: number[] }> {
  const [a, b] = [await host(crypto), await host(crypto)]
  await b.handle(ECHO, async (stream) => {
    for await (const chunk of stream) stream.send(chunk.subarray())
  })
  try {
    const ms: number[] = []
    let cpu = process.cpuUsage()
    for (let i = 0; i < CYCLES; i++) {
      if (i === WARM_UP) cpu = process.cpuUsage()
      const t0 = performance.now()
      const connection = await a.dial(b.getMultiaddrs()[0]!)
      const stream = await connection.newStream(ECHO)
      stream.send(new Uint8Array(100))
      for await (const answer of stream) if (answer.byteLength > 0) break
      if (i >= WARM_UP) ms.push(performance.now() - t0)
      await a.hangUp(b.peerId)
      // Both ends' close is over before the next dial.
      await sleep(10)
    }
    const used = process.cpuUsage(cpu)
    return { cpuMs: (used.user + used.system) / 1000 / (CYCLES - WARM_UP), ms }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

async function run (): Promise<void> {
  const rows: Array<Record<string, string>> = []
  for (const [label, crypto] of [['@chainsafe/libp2p-noise default crypto', undefined], ['src/p2p/noise-crypto.ts', noiseCrypto]] as const) {
    const { cpuMs, ms } = await measure(crypto)
    const s = summary(ms)
    rows.push({ 'Noise key exchanges': label, 'CPU per connection, both ends, ms': cpuMs.toFixed(2), 'dial → echo p50 / p95, ms': `${s.p50.toFixed(2)} / ${s.p95.toFixed(2)}` })
  }
  heading(`a new connection (TCP + Noise + Yamux, one stream, 100 bytes echoed, hang-up), ${CYCLES - WARM_UP} cycles each, both ends in this process`)
  console.log(formatTable(rows))
}

export const connectionCost: Benchmark = { name: 'connection-cost', title: 'CPU and time of a new connection, with the library\'s Noise crypto and the node\'s', run }
