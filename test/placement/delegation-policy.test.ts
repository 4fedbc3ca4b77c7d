import assert from 'node:assert/strict'
import { DEFAULT_COSTS } from '../../src/placement/capacity.js'
import { DelegationPolicy } from '../../src/placement/delegation-policy.js'
import type { DelegationPolicyInit, PeerStatus, SwarmView } from '../../src/placement/delegation-policy.js'
import type { PullContext } from '../../src/placement/placement-policy.js'

const PRODUCER = 'producer-1'
const SELF = 'self'
const REQUESTER = 'req'
/** Default costs: a video pipe is 4 points, an audio pipe 1. */
const VIDEO_PIPE = DEFAULT_COSTS.videoPipe
const FANOUT = 2
const RESERVE = 10

/** What the fake swarm looks like from this node; every field has a default. */
interface Scenario {
  /** This node's load and capacity, in points. */
  load: number
  capacity: number
  /** Peers this node sends the producer to. */
  downstream: string[]
  /** From the origin to this node. */
  route: string[]
  /** Connected peers. */
  peers: string[]
  /** Each peer's status answer, or the error its status request fails with. */
  statuses: Record<string, PeerStatus | Error>
  /** How a recruit of each peer goes: after `delayMs`, it fails or it has the copy. */
  recruits: Record<string, { delayMs?: number, fails?: boolean }>
}

interface FakeSwarm {
  view: SwarmView
  fitsAsked: Array<[cost: number, reserve: number, useReserve: boolean]>
  statusAsked: string[]
  recruited: Array<{ peerId: string, timeoutMs: number }>
  /** The policy's clock, ms: a recruit's `delayMs` moves it on (no real waiting, so no busy machine can stretch it). */
  clock: number
}

/** A SwarmView over a scenario, recording what the policy asked of it. */
function fakeSwarm (scenario: Partial<Scenario> = {}): FakeSwarm {
  const s: Scenario = { load: 0, capacity: 100, downstream: [], route: [SELF], peers: [], statuses: {}, recruits: {}, ...scenario }
  const fake: FakeSwarm = {
    fitsAsked: [],
    statusAsked: [],
    recruited: [],
    clock: 0,
    view: {
      // What LoadTracker.fits() does, over the scenario's numbers.
      fits: (cost, reserve, useReserve) => {
        fake.fitsAsked.push([cost, reserve, useReserve])
        return s.load + cost <= s.capacity - (useReserve ? 0 : reserve)
      },
      downstreamOf: (producerId) => producerId === PRODUCER ? [...s.downstream] : [],
      routeOf: (producerId) => producerId === PRODUCER ? [...s.route] : [SELF],
      peers: () => [...s.peers],
      status: async (peerId, producerId) => {
        assert.equal(producerId, PRODUCER)
        fake.statusAsked.push(peerId)
        const answer = s.statuses[peerId]
        if (answer === undefined) throw new Error(`the scenario has no status for ${peerId}`)
        if (answer instanceof Error) throw answer
        return answer
      },
      recruit: async (peerId, producerId, timeoutMs) => {
        assert.equal(producerId, PRODUCER)
        fake.recruited.push({ peerId, timeoutMs })
        const how = s.recruits[peerId] ?? {}
        await Promise.resolve()
        if (how.delayMs !== undefined) fake.clock += how.delayMs
        if (how.fails === true) throw new Error(`${peerId} filled up meanwhile`)
      }
    }
  }
  return fake
}

/** A relay's status: it has the producer, `spare` of 100 points left, `downstream` pipes. */
const relay = (spare: number, downstream = 0): PeerStatus => ({ load: 100 - spare, capacity: 100, has: true, pulling: false, downstream })
/** A peer without the producer, `spare` of 100 points left. */
const idle = (spare = 90, extra: Partial<PeerStatus> = {}): PeerStatus => ({ load: 100 - spare, capacity: 100, has: false, pulling: false, downstream: 0, ...extra })

const pull = (extra: Partial<PullContext> = {}): PullContext =>
  ({ producerId: PRODUCER, kind: 'video', requester: REQUESTER, recruited: false, leavingDownstream: false, rtts: {}, ...extra })

const policyOver = (fake: FakeSwarm, init: Partial<DelegationPolicyInit> = {}): DelegationPolicy =>
  new DelegationPolicy(fake.view, { costs: DEFAULT_COSTS, fanout: FANOUT, reserve: RESERVE, recruitBudgetMs: 1000, now: () => fake.clock, ...init })

describe('delegation policy', () => {
  describe('admits(): serve the pull here', () => {
    const cases: Array<[title: string, scenario: Partial<Scenario>, context: Partial<PullContext>, admitted: boolean]> = [
      ['admits under the fan-out', { downstream: ['d1'] }, {}, true],
      ['refuses at the fan-out', { downstream: ['d1', 'd2'] }, {}, false],
      ['gives a recruited requester one slot beyond the fan-out', { downstream: ['d1', 'd2'] }, { recruited: true }, true],
      ['refuses a recruited requester two slots beyond the fan-out', { downstream: ['d1', 'd2', 'd3'] }, { recruited: true }, false],
      ['gives a requester leaving a draining node one slot beyond the fan-out', { downstream: ['d1', 'd2'] }, { leavingDownstream: true }, true],
      ['refuses under the fan-out when one more pipe does not fit', { downstream: [], load: 97 }, {}, false],
      // 100 - 10 reserved = 90: a video pipe (4) fits up to load 86.
      ['admits while one more pipe fits outside the reserve', { load: 86 }, {}, true],
      ['refuses an ordinary pull that would use the reserve', { load: 87 }, {}, false],
      ['lets a recruited requester use the reserve', { load: 87 }, { recruited: true }, true],
      ['refuses a recruited requester beyond the capacity itself', { load: 97 }, { recruited: true }, false]
    ]
    for (const [title, scenario, context, admitted] of cases) {
      it(title, () => {
        assert.equal(policyOver(fakeSwarm(scenario)).admits(pull(context)), admitted)
      })
    }

    it('asks the node whether one pipe of the kind fits, keeping the reserve unless the requester was recruited', () => {
      const fake = fakeSwarm()
      const policy = policyOver(fake)
      policy.admits(pull({ kind: 'video' }))
      policy.admits(pull({ kind: 'audio', recruited: true }))
      assert.deepEqual(fake.fitsAsked, [[DEFAULT_COSTS.videoPipe, RESERVE, false], [DEFAULT_COSTS.audioPipe, RESERVE, true]])
    })
  })

  describe('elsewhere(): where a pull not served here goes', () => {
    it('redirects to the relays below it ranked by the ranking policy (RTT to the requester, then fan-out), leaving out the requester', async () => {
      const fake = fakeSwarm({
        downstream: ['r-far', REQUESTER, 'r-near', 'r-at-fanout'],
        statuses: { 'r-far': relay(50), 'r-near': relay(50), 'r-at-fanout': relay(50, FANOUT), [REQUESTER]: relay(50) },
        peers: ['p-idle']
      })
      const placement = await policyOver(fake).elsewhere(pull({ rtts: { 'r-far': 40, 'r-near': 5, 'r-at-fanout': 1 } }))
      // Nearest first; the nearest of all is at its fan-out and would only redirect again.
      assert.deepEqual(placement, { action: 'redirect', candidates: ['r-near', 'r-far', 'r-at-fanout'] })
      assert.deepEqual(fake.statusAsked.sort(), ['r-at-fanout', 'r-far', 'r-near'])
      // A relay had room: nobody is recruited.
      assert.deepEqual(fake.recruited, [])
    })

    it('ranks a relay whose status request failed last rather than dropping it', async () => {
      const fake = fakeSwarm({ downstream: ['r-silent', 'r-ok'], statuses: { 'r-silent': new Error('status timed out'), 'r-ok': relay(50) } })
      // Nearest to the requester, it would be first had it answered.
      const placement = await policyOver(fake).elsewhere(pull({ rtts: { 'r-silent': 1, 'r-ok': 50 } }))
      assert.deepEqual(placement, { action: 'redirect', candidates: ['r-ok', 'r-silent'] })
    })

    it('names a relay whose status failed even when it is the only one (after looking for a recruit)', async () => {
      const fake = fakeSwarm({ downstream: ['r-silent'], statuses: { 'r-silent': new Error('status timed out') } })
      assert.deepEqual(await policyOver(fake).elsewhere(pull()), { action: 'redirect', candidates: ['r-silent'] })
    })

    it('recruits an idle peer when no relay below has room, and puts it first', async () => {
      const fake = fakeSwarm({
        downstream: ['r-full'],
        peers: ['r-full', 'p-idle'],
        statuses: { 'r-full': relay(VIDEO_PIPE - 1), 'p-idle': idle() }
      })
      const placement = await policyOver(fake).elsewhere(pull())
      assert.deepEqual(placement, { action: 'redirect', candidates: ['p-idle', 'r-full'] })
      assert.deepEqual(fake.recruited.map((r) => r.peerId), ['p-idle'])
    })

    it('recruits when every relay below is at its fan-out, though they have points to spare', async () => {
      const fake = fakeSwarm({ downstream: ['r1'], peers: ['p-idle'], statuses: { r1: relay(80, FANOUT), 'p-idle': idle() } })
      assert.deepEqual(await policyOver(fake).elsewhere(pull()), { action: 'redirect', candidates: ['p-idle', 'r1'] })
    })

    describe('does not recruit a peer that', () => {
      // Each scenario has one peer, p, that must not be recruited (and no other that could be).
      const cases: Array<[reason: string, scenario: Partial<Scenario>, context?: Partial<PullContext>]> = [
        ['has the producer already', { statuses: { p: idle(90, { has: true }) } }],
        ['is pulling it now (a relay-to-be)', { statuses: { p: idle(90, { pulling: true }) } }],
        ['has fewer spare points than one pipe costs', { statuses: { p: idle(VIDEO_PIPE - 1) } }],
        ['did not answer its status request', { statuses: { p: new Error('status timed out') } }],
        ['is on the route from the origin', { route: ['p', SELF], statuses: { p: idle() } }],
        ['is the requester', { statuses: { p: idle() } }, { requester: 'p' }]
      ]
      for (const [reason, scenario, context] of cases) {
        it(reason, async () => {
          const fake = fakeSwarm({ peers: ['p'], ...scenario })
          const placement = await policyOver(fake).elsewhere(pull(context))
          assert.deepEqual(fake.recruited, [])
          assert.equal(placement.action, 'refuse')
        })
      }

      it('is below this node already (asked as a relay, not as a recruit)', async () => {
        const fake = fakeSwarm({ downstream: ['p'], peers: ['p'], statuses: { p: relay(VIDEO_PIPE - 1) } })
        assert.deepEqual(await policyOver(fake).elsewhere(pull()), { action: 'redirect', candidates: ['p'] })
        assert.deepEqual(fake.statusAsked, ['p'])
        assert.deepEqual(fake.recruited, [])
      })

      it('a control: the same peer idle, with room and off the route, is recruited', async () => {
        const fake = fakeSwarm({ peers: ['p'], statuses: { p: idle() } })
        assert.deepEqual(await policyOver(fake).elsewhere(pull()), { action: 'redirect', candidates: ['p'] })
      })
    })

    it('does not ask the route, the relays below or the requester for their status as recruits', async () => {
      const fake = fakeSwarm({
        route: ['origin', SELF],
        downstream: ['r-full'],
        peers: ['origin', 'r-full', REQUESTER, 'p-idle'],
        statuses: { 'r-full': relay(0), 'p-idle': idle() }
      })
      await policyOver(fake).elsewhere(pull())
      // r-full once, as a relay below.
      assert.deepEqual(fake.statusAsked.sort(), ['p-idle', 'r-full'])
    })

    it('tries recruits in rank order and moves on to the next when one fails', async () => {
      const fake = fakeSwarm({
        peers: ['p-far', 'p-near', 'p-mid'],
        statuses: { 'p-far': idle(), 'p-near': idle(), 'p-mid': idle() },
        recruits: { 'p-near': { fails: true } }
      })
      const placement = await policyOver(fake).elsewhere(pull({ rtts: { 'p-far': 60, 'p-near': 5, 'p-mid': 20 } }))
      assert.deepEqual(fake.recruited.map((r) => r.peerId), ['p-near', 'p-mid'])
      assert.deepEqual(placement, { action: 'redirect', candidates: ['p-mid'] })
    })

    it('asks at most recruitProbe peers for their status', async () => {
      const peers = ['p1', 'p2', 'p3', 'p4']
      const fake = fakeSwarm({ peers, statuses: Object.fromEntries(peers.map((p) => [p, idle()])) })
      await policyOver(fake, { recruitProbe: 2 }).elsewhere(pull())
      assert.deepEqual(fake.statusAsked.sort(), ['p1', 'p2'])
    })

    it('names at most maxCandidates nodes', async () => {
      const relays = ['r1', 'r2', 'r3', 'r4']
      const fake = fakeSwarm({ downstream: relays, statuses: Object.fromEntries(relays.map((r) => [r, relay(50)])) })
      const placement = await policyOver(fake, { maxCandidates: 3 }).elsewhere(pull())
      assert.deepEqual(placement, { action: 'redirect', candidates: ['r1', 'r2', 'r3'] })
    })

    describe('refuses when there is no candidate at all', () => {
      const cases: Array<[title: string, scenario: Partial<Scenario>]> = [
        ['no relay below and no peer', {}],
        ['no relay below and only peers that cannot be recruited', { peers: ['p1', 'p2'], statuses: { p1: idle(90, { has: true }), p2: idle(0) } }],
        ['no relay below and every recruit fails', { peers: ['p1', 'p2'], statuses: { p1: idle(), p2: idle() }, recruits: { p1: { fails: true }, p2: { fails: true } } }],
        ['the only node below is the requester', { downstream: [REQUESTER], statuses: { [REQUESTER]: relay(50) } }]
      ]
      for (const [title, scenario] of cases) {
        it(title, async () => {
          const placement = await policyOver(fakeSwarm(scenario)).elsewhere(pull())
          assert.equal(placement.action, 'refuse')
          assert.ok(placement.action === 'refuse' && placement.reason.includes(PRODUCER), 'the reason names the producer')
        })
      }
    })

    describe('the recruit budget (recruitBudgetMs, for all recruits of one redirect)', () => {
      // Real time (the policy reads performance.now()): durations are chosen so that a slow
      // machine only makes each outcome more certain, or leaves a wide margin.
      const BUDGET_MS = 1000
      const scenario = (first: { delayMs?: number, fails?: boolean }): Partial<Scenario> => ({
        peers: ['p-first', 'p-second'],
        statuses: { 'p-first': idle(), 'p-second': idle() },
        recruits: { 'p-first': first }
      })
      const rtts = { 'p-first': 1, 'p-second': 2 }

      it('gives the first recruit the whole budget as its deadline', async () => {
        const fake = fakeSwarm(scenario({}))
        await policyOver(fake, { recruitBudgetMs: BUDGET_MS }).elsewhere(pull({ rtts }))
        const [first] = fake.recruited
        assert.ok(first !== undefined && first.timeoutMs <= BUDGET_MS && first.timeoutMs > BUDGET_MS * 0.9, `deadline ${first?.timeoutMs} ms`)
      })

      it('gives the next recruit what is left after a slow failure', async () => {
        // 150 ms of 1000 used: 850 left, well above the quarter (250) that ends the search.
        const fake = fakeSwarm(scenario({ delayMs: 150, fails: true }))
        const placement = await policyOver(fake, { recruitBudgetMs: BUDGET_MS }).elsewhere(pull({ rtts }))
        assert.deepEqual(fake.recruited.map((r) => r.peerId), ['p-first', 'p-second'])
        const second = fake.recruited[1]!.timeoutMs
        assert.ok(second <= BUDGET_MS - 150 && second >= BUDGET_MS / 4, `second deadline ${second} ms`)
        assert.deepEqual(placement, { action: 'redirect', candidates: ['p-second'] })
      })

      it('does not ask the next candidate when a slow failure left less than a quarter of it', async () => {
        // 850 ms of 1000 used: at most 150 left, under the quarter (250); slower only leaves less.
        const fake = fakeSwarm(scenario({ delayMs: 850, fails: true }))
        const placement = await policyOver(fake, { recruitBudgetMs: BUDGET_MS }).elsewhere(pull({ rtts }))
        assert.deepEqual(fake.recruited.map((r) => r.peerId), ['p-first'])
        assert.equal(placement.action, 'refuse')
      })
    })
  })

  it('prices a pipe by kind (pipeCost)', () => {
    const policy = policyOver(fakeSwarm())
    assert.equal(policy.pipeCost('video'), DEFAULT_COSTS.videoPipe)
    assert.equal(policy.pipeCost('audio'), DEFAULT_COSTS.audioPipe)
  })
})
