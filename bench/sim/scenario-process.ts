// Runs one scenario in a process of its own: the benchmark runs as many at a time as the
// machine has cores, the largest swarms first.
import { runScenario } from './scenario.js'
import type { SimParameters } from './scenario.js'

export interface ScenarioTask {
  params: SimParameters
  nodes: number
  k: number
}

process.once('message', (task: ScenarioTask) => {
  const result = runScenario(task.params, task.nodes, task.k)
  process.send!(result, () => process.exit(0))
})
