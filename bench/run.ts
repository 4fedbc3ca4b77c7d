import '../src/platform/promise-with-resolvers.js'
// `npm run bench` runs every benchmark; `tsx bench/run.ts <name> [<name>…]` runs the named ones.
// Each prints its tables; nothing is asserted. The machine description comes first.
import { formatTable } from '../test/harness/report.js'
import { machineDescription } from './common.js'
import { churnSoak } from './churn-soak.js'
import { connectionCost } from './connection-cost.js'
import { connectionFloods } from './connection-floods.js'
import { controlPlaneSim } from './control-plane-sim.js'
import { delegation } from './delegation.js'
import { failover } from './failover.js'
import { hopLatency } from './hop-latency.js'
import { idleMemory } from './idle-memory.js'
import { mediaSampling } from './media-sampling.js'
import { pingCost } from './ping-cost.js'
import { pipeFloods } from './pipe-floods.js'
import { setupLatency } from './setup-latency.js'
import { setupLatencyProcesses } from './setup-latency-processes.js'
import { signallingFloods } from './signalling-floods.js'
import { swarmScale } from './swarm-scale.js'
import type { Benchmark } from './common.js'

const BENCHMARKS: Benchmark[] = [setupLatency, setupLatencyProcesses, hopLatency, delegation, failover, churnSoak, swarmScale, pingCost, connectionCost, controlPlaneSim, signallingFloods, pipeFloods, connectionFloods, idleMemory, mediaSampling]

async function main (): Promise<void> {
  const names = process.argv.slice(2)
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n))
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`)
    process.exit(2)
  }
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name))
  console.log('# mediasoup-swarm benchmarks\n')
  console.log(formatTable(machineDescription()))
  const started = performance.now()
  for (const bench of selected) {
    const t0 = performance.now()
    console.log(`\n# ${bench.name}: ${bench.title}`)
    await bench.run()
    console.log(`\n(${bench.name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
  }
  console.log(`\nall done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

main().then(() => process.exit(0), (err) => {
  console.error(err)
  process.exit(1)
})
