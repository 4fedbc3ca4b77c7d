import '../src/platform/promise-with-resolvers.js'
// Shared by the benchmarks: machine description, summary statistics, background-error
// collection and output helpers. Benchmarks measure and print; they assert nothing.
import fs from 'node:fs'
import os from 'node:os'
import * as mediasoup from 'mediasoup'
import { producerKey } from '../src/directory/producer-directory.js'
import { latencyStats } from '../test/harness/report.js'
import { timeFindProviders, timeProvide } from '../test/harness/timing.js'
import type { TableRow } from '../test/harness/report.js'
import type { DhtProbe } from '../test/harness/timing.js'
import type { SwarmNode } from '../src/index.js'

export interface Benchmark {
  name: string
  /** One line: what is measured. */
  title: string
  run: () => Promise<void>
}

/** CPU, cores, RAM, Node and mediasoup versions: the header of every run. */
export function machineDescription (): Array<{ item: string, value: string }> {
  const cpus = os.cpus()
  return [
    { item: 'CPU', value: cpus[0]?.model ?? 'unknown' },
    { item: 'cores', value: String(cpus.length) },
    { item: 'RAM', value: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB` },
    { item: 'OS', value: `${os.type()} ${os.release()} ${os.arch()}` },
    { item: 'Node', value: process.version },
    { item: 'mediasoup', value: mediasoup.version }
  ]
}

export function heading (text: string): void {
  console.log(`\n## ${text}\n`)
}

/** n, p50, p95 and max of a sample set (NaN when empty). */
export function summary (samples: readonly number[]): { n: number, p50: number, p95: number, max: number } {
  const s = latencyStats(samples)
  return { n: s.count, p50: s.p50, p95: s.p95, max: s.max }
}

export function median (samples: readonly number[]): number {
  return latencyStats(samples).p50
}

/**
 * Counts the nodes' background `error` events (the node carries on after them) so that a
 * benchmark can say whether anything went wrong while it measured.
 */
export class ErrorLog {
  readonly messages: string[] = []

  watch (nodes: readonly SwarmNode[]): void {
    nodes.forEach((node, i) => node.on('error', (err) => this.add(i, `${err.name}: ${err.message}`)))
  }

  /** Records one event of node `index` (for nodes in other processes, which report them as text). */
  add (index: number, text: string): void {
    this.messages.push(`node ${index}: ${text}`)
  }

  /** Prints a line per distinct message (with its count), or nothing. */
  print (label: string): void {
    if (this.messages.length === 0) return
    const counts = new Map<string, number>()
    for (const m of this.messages) counts.set(m, (counts.get(m) ?? 0) + 1)
    console.log(`\n${label}: ${this.messages.length} background error event(s):`)
    for (const [m, n] of counts) console.log(`  ${n} × ${m.slice(0, 300)}`)
  }
}

/** A ratio with two decimals, or 'n/a'. */
export function ratio (a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a'
}

/** A producer id nobody uses, for a DHT key (`producerKey()`) of the probe. */
export function probeName (i: number): string {
  return `bench-dht-probe-${i}-${Math.random()}`
}

/**
 * Times the DHT operations a pull sets off, alone: one node announces a key nobody else
 * uses (`provide`, as the origin does for a producer and a node for each copy it gets),
 * another looks it up (`findProviders`, as a cold pull does). `JS busy` is this process's
 * event-loop utilisation meanwhile: every node of the swarm runs its libp2p in it.
 */
export async function probeDht (nodes: readonly SwarmNode[], count: number): Promise<TableRow[]> {
  const probes: DhtProbe[] = []
  for (let i = 0; i < count; i++) {
    const key = await producerKey(probeName(i))
    const { announcer, seeker } = probePair(nodes, i)
    const provided = await timeProvide(announcer, key)
    probes.push({ ...provided, ...await timeFindProviders(seeker, key) })
  }
  return dhtRows(probes)
}

/** Round i's announcing and seeking nodes (announcers in rotation, seekers half the swarm away). */
export function probePair<T> (nodes: readonly T[], i: number): { announcer: T, seeker: T } {
  return { announcer: nodes[i % nodes.length]!, seeker: nodes[(i + 1 + Math.floor(nodes.length / 2)) % nodes.length]! }
}

/** The DHT probe's table. */
export function dhtRows (probes: readonly DhtProbe[]): TableRow[] {
  const row = (operation: string, samples: number[], busy: number[]): TableRow => {
    const s = summary(samples)
    return { operation, n: s.n, 'p50 ms': s.p50, 'p95 ms': s.p95, 'max ms': s.max, 'p50 JS busy %': median(busy) }
  }
  const findBusy = probes.map((p) => p.findBusy)
  return [
    row('findProviders: first provider', probes.map((p) => p.first), findBusy),
    row('findProviders: whole query', probes.map((p) => p.complete), findBusy),
    row('provide (announce)', probes.map((p) => p.provide), probes.map((p) => p.provideBusy))
  ]
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ on Linux). */
const CLOCK_TICKS_PER_S = 100

/** User + system CPU seconds of a process so far, from /proc (throws when it is gone). */
export function processCpuSeconds (pid: number | string): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S
}
