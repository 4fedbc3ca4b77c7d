import '../src/platform/promise-with-resolvers.js'
// Signalling floods (issue 11): two node binaries on loopback, A and B; a legitimate
// viewer on B consumes producers published on A (each consume pulls a new producer from A)
// while an attacker holding a valid token floods B's signalling: 5 000 requests at once,
// 500 connections, 2 000 transports, 640 consumes of random ids; then the same from 50
// addresses. Prints the legitimate consume's latency idle and during each flood (target
// ≤ 2× idle), what the limits let through, and B's memory (node process and its mediasoup
// worker) before, at the peak of and after the floods (target: back to the baseline once
// the flood's connections are closed, and no higher after the same flood three times).
// The attacker is a process of its own (signalling-flood-attacker.ts) at the lowest CPU
// priority, as if on another machine. Every flood is
// bounded; only loopback is targeted.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import * as mediasoup from 'mediasoup'
import readline from 'node:readline'
import { formatTable, sleep } from '../test/harness/index.js'
import { killAll, LOCAL, startBinary } from '../test/cli/binary.js'
import { TestClient } from '../test/signalling/test-client.js'
import { createClientToken } from '../src/signalling/token.js'
import { DEFAULT_LIMITS } from '../src/signalling/client-limits.js'
import type { Flood } from './signalling-flood-attacker.js'
import { heading, summary } from './common.js'
import type { Benchmark } from './common.js'
import type { Binary } from '../test/cli/binary.js'
import type { TableRow } from '../test/harness/index.js'
import type { types as ms } from 'mediasoup'

const SECRET = 'a-bench-secret-of-at-least-32-characters'
const SAMPLES = 5
const ATTACKER = '127.0.0.2'
/** The distributed floods' addresses: 127.0.1.1 … 127.0.1.50. */
const DISTRIBUTED = Array.from({ length: 50 }, (_, i) => `127.0.1.${i + 1}`)
/** After a flood's connections close: the lookups they started end within the node's lookup timeout (5 s). */
const SETTLE_MS = 6000
/** Then, what is left once the flooded node has been idle a while (V8's memory reducer runs 20-40 s into an idle spell). */
const IDLE_AFTER_MS = 45_000
/** Memory is back when within this of the baseline. */
const BASELINE_MARGIN_MB = 10

const opus = (ssrc: number): ms.RtpParameters => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] })

/** Resident memory in MB of `pid` and of its mediasoup workers (its child processes). */
function memoryOf (pid: number): { node: number, worker: number } {
  const rss = (p: number | string): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN) / 1024
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== '')
  return { node: rss(pid), worker: children.reduce((n, c) => n + rss(c), 0) }
}

/** The attacker process: send() a flood, resolves with what it says the target let through. */
function startAttacker (): { send: (flood: Flood) => Promise<string>, stop: () => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./signalling-flood-attacker.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] })
  // An attacker's CPU is elsewhere: on this one machine it yields to the nodes it floods.
  os.setPriority(child.pid as number, 19)
  const answers: Array<(line: string) => void> = []
  readline.createInterface({ input: child.stdout }).on('line', (line) => answers.shift()?.(line))
  return {
    send: async (flood) => {
      const line = await new Promise<string>((resolve) => {
        answers.push(resolve)
        child.stdin.write(`${JSON.stringify(flood)}\n`)
      })
      const answer = JSON.parse(line) as { result?: string, error?: string }
      if (answer.error !== undefined) throw new Error(`attacker: ${answer.error}`)
      return answer.result as string
    },
    stop: () => { child.stdin.end(); child.kill() }
  }
}

/**
 * A mediasoup worker alone (no signalling): its RSS with 2 000 WebRtcTransports on a
 * WebRtcServer and after they close, three times: what the worker keeps by itself.
 */
async function workerAlone (): Promise<TableRow[]> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' })
  try {
    const server = await worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }] })
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] })
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
    const rows: TableRow[] = []
    const before = rss()
    for (let round = 1; round <= 3; round++) {
      const transports = await Promise.all(Array.from({ length: 2000 }, async () => await router.createWebRtcTransport({ webRtcServer: server })))
      const peak = rss()
      for (const t of transports) t.close()
      await sleep(2000)
      rows.push({ round, 'before MB': before, 'with 2 000 transports MB': peak, 'after closing them MB': rss() })
    }
    return rows
  } finally {
    worker.close()
  }
}

async function run (): Promise<void> {
  const binaries: Binary[] = []
  const env = { MEDIASOUP_SWARM_TOKEN_SECRET: SECRET }
  const common = [...LOCAL, '--signalling', '--log-level', 'error', '--drain-timeout', '0']
  const attacker = startAttacker()
  try {
    const a = await startBinary(common, env)
    binaries.push(a)
    const b = await startBinary([...common, '--bootstrap', a.multiaddrs[0] as string], env)
    binaries.push(b)
    // The attacker holds a token of its own (one subject, whatever addresses it uses); the
    // legitimate users hold theirs.
    const tokenOf = async (sub: string): Promise<string> => await createClientToken({ secret: SECRET, sub, expiresInSeconds: 900, grants: { publish: true, consume: true } })
    const urlB = `${b.signallingUrl as string}?token=${await tokenOf('attacker')}`
    const publisher = await TestClient.open(`${a.signallingUrl as string}?token=${await tokenOf('publisher')}`)
    const viewer = await TestClient.open(`${b.signallingUrl as string}?token=${await tokenOf('viewer')}`)
    const sendId = (await publisher.ok('createWebRtcTransport', { direction: 'send' })).id as string
    const recvId = (await viewer.ok('createWebRtcTransport', { direction: 'recv' })).id as string
    const rtpCapabilities = await viewer.ok('getRouterRtpCapabilities')
    let ssrc = 1000

    /** One legitimate consume of a producer just published on A: ms, or the error name. */
    const legit = async (): Promise<number | string> => {
      const { id: producerId } = await publisher.ok('produce', { transportId: sendId, kind: 'audio', rtpParameters: opus(ssrc++) })
      const t0 = performance.now()
      const reply = await viewer.request('consume', { transportId: recvId, producerId, rtpCapabilities })
      const took = performance.now() - t0
      if (reply.ok) await viewer.ok('closeConsumer', { consumerId: (reply.data as { id: string }).id })
      await publisher.ok('closeProducer', { producerId })
      return reply.ok ? took : reply.error.name
    }

    const pid = b.child.pid as number
    let peak = { node: 0, worker: 0 }
    const sampler = setInterval(() => {
      const m = memoryOf(pid)
      peak = { node: Math.max(peak.node, m.node), worker: Math.max(peak.worker, m.worker) }
    }, 200)

    const latencyRows: TableRow[] = []
    const floodRows: TableRow[] = []
    let idleP50 = NaN
    /** SAMPLES rounds of: the flood (connections of the last round closed first) and, at the same time, one legitimate consume. */
    const measure = async (phase: string, flood: Flood | undefined): Promise<void> => {
      const samples: number[] = []
      const refused: string[] = []
      let outcome = ''
      for (let i = 0; i < SAMPLES; i++) {
        if (flood !== undefined) await attacker.send({ kind: 'close' })
        const [said, result] = await Promise.all([flood === undefined ? '' : attacker.send(flood), legit()])
        outcome = said
        if (typeof result === 'number') samples.push(result)
        else refused.push(result)
      }
      await attacker.send({ kind: 'close' })
      const s = summary(samples)
      if (flood === undefined) idleP50 = s.p50
      latencyRows.push({
        phase,
        'consume p50 ms': s.p50,
        'p95 ms': s.p95,
        'max ms': s.max,
        refused: refused.length === 0 ? 0 : refused.join(' '),
        target: flood === undefined ? '—' : `p50 ≤ ${(2 * idleP50).toFixed(0)} (2× idle)`,
        met: flood === undefined ? '—' : s.p50 <= 2 * idleP50 && refused.length === 0 ? 'yes' : 'NO'
      })
      if (flood !== undefined) floodRows.push({ flood: phase, 'let through (last round)': outcome })
    }

    for (let i = 0; i < 3; i++) await legit() // warm-up: first pulls, spare transports
    await measure('idle', undefined)
    await sleep(1000)
    const baseline = memoryOf(pid)
    peak = { ...baseline }

    const one = [ATTACKER]
    const perIp = DEFAULT_LIMITS.maxConnectionsPerIp
    await measure('5 000 requests at once (1 connection)', { kind: 'requests', url: urlB, address: ATTACKER, count: 5000 })
    await measure('500 connections (1 address)', { kind: 'connections', url: urlB, addresses: one, count: 500 })
    await measure('2 000 transports (1 address)', { kind: 'transports', url: urlB, addresses: one, connections: perIp, count: 2000 })
    await measure('640 consumes of random ids (1 address)', { kind: 'lookups', url: urlB, addresses: one, connections: perIp, count: 640, rtpCapabilities })
    await sleep(SETTLE_MS)
    await measure('500 connections (50 addresses)', { kind: 'connections', url: urlB, addresses: DISTRIBUTED, count: 500 })
    const afterRows: TableRow[] = []
    const distributedTransports: Flood = { kind: 'transports', url: urlB, addresses: DISTRIBUTED, connections: 500, count: 2000 }
    for (let round = 1; round <= 3; round++) {
      await measure(`2 000 transports on 500 connections (50 addresses)${round > 1 ? `, again (${round})` : ''}`, distributedTransports)
      await sleep(SETTLE_MS)
      const m = memoryOf(pid)
      afterRows.push({ after: `2 000 transports (50 addresses), round ${round}`, 'node MB': m.node, 'worker MB': m.worker })
    }
    await measure('640 consumes of random ids (50 addresses)', { kind: 'lookups', url: urlB, addresses: DISTRIBUTED, connections: 500, count: 640, rtpCapabilities })
    await sleep(SETTLE_MS)
    clearInterval(sampler)
    const after = memoryOf(pid)
    await sleep(IDLE_AFTER_MS - SETTLE_MS)
    const idleAfter = memoryOf(pid)
    const metrics = await (await fetch(`${b.httpUrl}metrics`)).text()
    const refusals = [...metrics.matchAll(/mediasoup_swarm_signalling_refusals_total\{reason="([^"]+)"\} (\d+)/g)].filter((m) => m[2] !== '0').map((m) => `${m[1]} ${m[2]}`)
    const connections = /mediasoup_swarm_signalling_connections (\d+)/.exec(metrics)?.[1]
    const consumers = [...metrics.matchAll(/mediasoup_swarm_consumers\{transport="webrtc"[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)

    heading('a legitimate consume (pull of a new producer from A) while a client with a token floods B\'s signalling')
    console.log(formatTable(latencyRows))
    heading('what the limits let through (defaults)')
    console.log(formatTable(floodRows))
    heading(`B's memory (RSS, MB); "after": ${SETTLE_MS / 1000} s after the last flood's connections closed; "idle after": ${IDLE_AFTER_MS / 1000} s after`)
    const back = (base: number, now: number): string => now <= base + BASELINE_MARGIN_MB ? 'yes' : 'NO'
    console.log(formatTable([
      { process: 'node (B)', before: baseline.node, peak: peak.node, after: after.node, 'idle after': idleAfter.node, target: `idle after ≤ before + ${BASELINE_MARGIN_MB}`, met: back(baseline.node, idleAfter.node) },
      { process: 'mediasoup worker (B)', before: baseline.worker, peak: peak.worker, after: after.worker, 'idle after': idleAfter.worker, target: `idle after ≤ before + ${BASELINE_MARGIN_MB}`, met: back(baseline.worker, idleAfter.worker) }
    ]))
    console.log('\nthe same distributed transport flood three times (memory reused, not growing):\n')
    console.log(formatTable(afterRows))
    console.log(`\nB after the floods: ${connections ?? '?'} signalling connection(s) open (the viewer's), ${consumers} WebRTC consumers; refusals counted: ${refusals.join(', ')}`)
    heading('a mediasoup worker alone: 2 000 WebRtcTransports made and closed, three times (what the worker keeps by itself)')
    console.log(formatTable(await workerAlone()))
    publisher.close()
    viewer.close()
  } finally {
    attacker.stop()
    for (const binary of binaries) await binary.stop('SIGTERM').catch(() => {})
    killAll(binaries)
  }
}

export const signallingFloods: Benchmark = {
  name: 'signalling-floods',
  title: 'a legitimate consume and node memory while a client with a token floods the signalling (requests, connections, transports, random-id consumes)',
  run
}
