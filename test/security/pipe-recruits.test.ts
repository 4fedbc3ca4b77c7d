// Recruits bounded per sender (src/node/serving/relay-recruits.ts), with fakes: recruits of
// random ids cannot make a node pull back from their sender one for one.
import assert from 'node:assert/strict'
import { ProducerNotFoundError, RequestRefusedError } from '../../src/errors.js'
import { RECRUIT_BURST, RelayRecruits } from '../../src/node/serving/relay-recruits.js'
import type { RelayRecruitsInit } from '../../src/node/serving/relay-recruits.js'

function recruitsWith (pulls: string[], init: Partial<RelayRecruitsInit> = {}): RelayRecruits {
  return new RelayRecruits({
    registry: { entries: () => [] } as unknown as RelayRecruitsInit['registry'],
    puller: {
      isPulling: () => false,
      settled: async () => {},
      // The sender has nothing: every pull back fails, after a round trip.
      locate: async (producerId: string, _router: unknown, from: string) => {
        pulls.push(`${from} ${producerId}`)
        await new Promise((resolve) => setTimeout(resolve, 5))
        throw new ProducerNotFoundError(producerId, `tried ${from}: not-found`)
      }
    } as unknown as RelayRecruitsInit['puller'],
    hasRoomForPipe: () => true,
    draining: () => false,
    routers: () => [{}] as unknown as ReturnType<RelayRecruitsInit['routers']>,
    createRouter: async () => { throw new Error('not used') },
    relayMediaCodecs: [],
    recruitsPerMinute: 60,
    ...init
  })
}

const codeOf = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'ok', (err: Error) => err instanceof RequestRefusedError ? err.code : err.name)

describe('recruits bounded per sender', () => {
  it(`1000 recruits of random ids at once from one sender start at most ${RECRUIT_BURST} pulls back; the rest are answered busy`, async () => {
    const pulls: string[] = []
    let refused = 0
    const recruits = recruitsWith(pulls, { onRefused: () => { refused++ } })
    const answers = await Promise.all(Array.from({ length: 1000 }, async (_, i) => await codeOf(recruits.answer('liar', `random-${i}`))))
    assert.equal(pulls.length, RECRUIT_BURST)
    assert.equal(answers.filter((a) => a === 'busy').length, 1000 - RECRUIT_BURST)
    assert.equal(refused, 1000 - RECRUIT_BURST)
  })

  it('a sender whose recruit failed loses its whole allowance; another sender keeps its own', async () => {
    const pulls: string[] = []
    const recruits = recruitsWith(pulls, { recruitsPerMinute: 600 })
    assert.equal(await codeOf(recruits.answer('liar', 'a')), 'ProducerNotFoundError')
    // Without the charge it would have had RECRUIT_BURST − 1 left.
    assert.equal(await codeOf(recruits.answer('liar', 'b')), 'busy')
    assert.equal(await codeOf(recruits.answer('honest', 'c')), 'ProducerNotFoundError')
    assert.deepEqual(pulls, ['liar a', 'honest c'])
  })

  it('senders are forgotten once their allowance is full again', async () => {
    const recruits = recruitsWith([], { recruitsPerMinute: 60_000 })
    await codeOf(recruits.answer('p1', 'x'))
    assert.equal(recruits.trackedSenders, 1)
    // 1000 per second: the charged allowance (−8 … 8) is back within 20 ms; the sweep runs on the next recruit.
    await new Promise((resolve) => setTimeout(resolve, 40))
    await codeOf(recruits.answer('p2', 'y'))
    assert.equal(recruits.trackedSenders, 1)
  })
})
