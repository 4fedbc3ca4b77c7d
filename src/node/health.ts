// Liveness and readiness of a node, as checks an orchestrator's probes (the binary's
// /healthz and /readyz) or an application can read. Pure: the node passes what it knows.

/** One check: passed or not, and a short text for a person (no peer ids, no secrets). */
export interface HealthCheck {
  ok: boolean
  detail: string
}

/** Checks of node.health(): is the process worth keeping (restart it otherwise)? */
export type HealthCheckName = 'running' | 'workers'
/** Checks of node.readiness(): should it be given new clients and pulls now? */
export type ReadinessCheckName = HealthCheckName | 'swarm' | 'draining'

export interface HealthReport<Name extends string> {
  /** Every check passed. */
  ok: boolean
  checks: Record<Name, HealthCheck>
  /** Names of the checks that did not pass (empty when `ok`). */
  failed: Name[]
}

/** What the checks are made from. */
export interface HealthInputs {
  /** Started and not stopped. */
  running: boolean
  /** mediasoup workers alive now. */
  workersAlive: number
  /** `numWorkers`: how many the node runs when none is being replaced. */
  workersExpected: number
  /** Bootstrap addresses other than the node's own. */
  bootstrapAddresses: number
  /** Peers connected now. */
  peers: number
  draining: boolean
}

function report<Name extends string> (checks: Record<Name, HealthCheck>): HealthReport<Name> {
  const failed = (Object.keys(checks) as Name[]).filter((name) => !checks[name].ok)
  return { ok: failed.length === 0, checks, failed }
}

function running (i: HealthInputs): HealthCheck {
  return { ok: i.running, detail: i.running ? 'started' : 'stopped' }
}

function workersOf (i: HealthInputs): string {
  return `${i.workersAlive} of ${i.workersExpected} mediasoup workers alive`
}

/**
 * Alive: the node runs and has at least one mediasoup worker (a dead one is being replaced
 * meanwhile; with none left the node stops).
 */
export function healthReport (i: HealthInputs): HealthReport<HealthCheckName> {
  return report({ running: running(i), workers: { ok: i.running && i.workersAlive > 0, detail: workersOf(i) } })
}

/**
 * Ready: alive with every worker (not while a dead one is replaced), in the swarm (a node
 * with bootstrap addresses needs a peer now: alone it cannot find producers published
 * elsewhere; one without is a swarm's first node, ready alone), and not draining.
 */
export function readinessReport (i: HealthInputs): HealthReport<ReadinessCheckName> {
  const joined = i.bootstrapAddresses === 0 || i.peers > 0
  const swarm = i.peers > 0
    ? `connected to ${i.peers} peer${i.peers === 1 ? '' : 's'}`
    : i.bootstrapAddresses === 0 ? 'no bootstrap address: the first node of its swarm' : `no peer yet (${i.bootstrapAddresses} bootstrap address${i.bootstrapAddresses === 1 ? '' : 'es'})`
  return report({
    running: running(i),
    workers: { ok: i.running && i.workersAlive >= i.workersExpected, detail: workersOf(i) },
    swarm: { ok: i.running && joined, detail: swarm },
    draining: { ok: !i.draining, detail: i.draining ? 'draining: takes no new pulls' : 'not draining' }
  })
}
