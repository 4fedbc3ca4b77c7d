import assert from 'node:assert/strict'
import { ProducerNotFoundError } from '../../src/index.js'
import { createRtpSource, waitFor } from '../harness/index.js'
import { mediaCodecs, startChain, stopAll, waitConnected } from '../harness/swarm.js'
import type { SwarmNode } from '../../src/index.js'
import type { types as ms } from 'mediasoup'

/** Messages a DirectTransport data consumer received, in order of arrival. */
async function receiver (router: ms.Router, dataProducerId: string): Promise<{ consumer: ms.DataConsumer, messages: string[] }> {
  const transport = await router.createDirectTransport()
  const consumer = await transport.consumeData({ dataProducerId })
  const messages: string[] = []
  consumer.on('message', (message: Buffer) => messages.push(message.toString('utf8')))
  return { consumer, messages }
}

describe('data channels across nodes: A → relay B → C', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []
  let a: SwarmNode, b: SwarmNode, c: SwarmNode
  let routerA: ms.Router, routerB: ms.Router, routerC: ms.Router
  let dataProducer: ms.DataProducer

  beforeEach(async () => {
    // A has fan-out 1: once B receives from it, C is sent to B.
    nodes = await startChain(3, { fanout: 1, timeouts: { lookup: 3000 } })
    ;[a, b, c] = nodes as [SwarmNode, SwarmNode, SwarmNode]
    await waitConnected(nodes)
    routerA = await a.createRouter({ mediaCodecs })
    routerB = await b.createRouter({ mediaCodecs })
    routerC = await c.createRouter({ mediaCodecs })
    const sender = await routerA.createDirectTransport()
    dataProducer = await sender.produceData({ label: 'chat', protocol: 'swarm-test', appData: { room: 'r1' } })
  })

  afterEach(async () => {
    await stopAll(nodes)
  })

  async function pullThroughRelay (): Promise<{ copyB: ms.DataProducer, copyC: ms.DataProducer }> {
    const { pipeDataProducer: copyB } = await b.pipeToRouter({ dataProducerId: dataProducer.id, router: routerB })
    const { pipeDataProducer: copyC } = await c.pipeToRouter({ dataProducerId: dataProducer.id, router: routerC })
    return { copyB, copyC }
  }

  it('C gets a copy with the same id, label, protocol and appData, through relay B', async () => {
    const { copyB, copyC } = await pullThroughRelay()
    for (const copy of [copyB, copyC]) {
      assert.equal(copy.id, dataProducer.id)
      assert.equal(copy.label, 'chat')
      assert.equal(copy.protocol, 'swarm-test')
      assert.deepEqual(copy.appData, { room: 'r1' })
      assert.equal(copy.type, 'sctp')
    }
    assert.deepEqual(c.getDistribution(dataProducer.id)?.route, [a.peerId, b.peerId, c.peerId])
    assert.deepEqual(a.getDistribution(dataProducer.id)?.downstream, [b.peerId])
    assert.deepEqual(b.getDistribution(dataProducer.id)?.downstream, [c.peerId])
    assert.deepEqual(c.dataProducerIds(), [dataProducer.id])
    assert.deepEqual(c.producerIds(), [])
    assert.equal(c.dataProducersIn(routerC)[0], copyC)
  })

  it('messages sent on A arrive at B and C, all and in order, over the pipes\' SCTP', async () => {
    await pullThroughRelay()
    const atB = await receiver(routerB, dataProducer.id)
    const atC = await receiver(routerC, dataProducer.id)
    const total = 500
    for (let i = 0; i < total; i++) dataProducer.send(`m${i}`)
    const expected = Array.from({ length: total }, (_, i) => `m${i}`)
    await waitFor(() => atB.messages.length >= total && atC.messages.length >= total, {
      timeoutMs: 15_000, what: `all ${total} messages at B and C`, progress: () => `B ${atB.messages.length}, C ${atC.messages.length}`
    })
    assert.deepEqual(atB.messages, expected)
    assert.deepEqual(atC.messages, expected)
    // The path really was A → B → C.
    assert.equal(c.getDistribution(dataProducer.id)?.upstream, b.peerId)
  })

  it('closing the data producer on A closes the copies on B and C and their data consumers', async () => {
    const { copyB, copyC } = await pullThroughRelay()
    const atC = await receiver(routerC, dataProducer.id)
    let consumerClosed = false
    atC.consumer.on('dataproducerclose', () => { consumerClosed = true })
    dataProducer.close()
    await waitFor(() => copyB.closed && copyC.closed && consumerClosed, { timeoutMs: 10_000, what: 'copies closed on B and C' })
    await waitFor(() => b.dataProducerIds().length === 0 && c.dataProducerIds().length === 0, { what: 'registries empty' })
    // Their pipes go with their last copy.
    await waitFor(() => b.pipeStats.incomingPipes === 0 && c.pipeStats.incomingPipes === 0 && a.pipeStats.outgoingPipes === 0, {
      timeoutMs: 10_000, what: 'pipes closed', progress: () => JSON.stringify([a.pipeStats, b.pipeStats, c.pipeStats])
    })
  })

  it('a media producer and a data producer travel on the same pipe', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'audio' })
    try {
      await b.pipeToRouter({ producerId: source.producer.id, router: routerB })
      const { pipeDataProducer } = await b.pipeToRouter({ dataProducerId: dataProducer.id, router: routerB })
      assert.equal(pipeDataProducer.id, dataProducer.id)
      assert.deepEqual(b.pipeStats, { outgoingPipes: 0, incomingPipes: 1, outgoingConsumers: 0, incomingProducers: 2 })
    } finally {
      source.close()
    }
  })

  it('an unknown dataProducerId is ProducerNotFoundError, and leaves no pipe anywhere', async () => {
    const before = nodes.map((n) => n.pipeStats)
    await assert.rejects(c.pipeToRouter({ dataProducerId: '0b8e7f3c-0000-4000-8000-000000000000', router: routerC }), ProducerNotFoundError)
    assert.deepEqual(nodes.map((n) => n.pipeStats), before)
  })

  it('a media producer id asked as a data producer (and the reverse) is ProducerNotFoundError, and leaves no pipe', async () => {
    const source = await createRtpSource({ router: routerA, kind: 'audio' })
    try {
      const before = nodes.map((n) => n.pipeStats)
      await assert.rejects(c.pipeToRouter({ dataProducerId: source.producer.id, router: routerC }), ProducerNotFoundError)
      await assert.rejects(c.pipeToRouter({ producerId: dataProducer.id, router: routerC }), ProducerNotFoundError)
      // On the node that has it, too.
      await assert.rejects(a.pipeToRouter({ producerId: dataProducer.id, router: routerA }), ProducerNotFoundError)
      await waitFor(() => nodes.every((n, i) => JSON.stringify(n.pipeStats) === JSON.stringify(before[i])), {
        what: `pipe counts back to ${JSON.stringify(before)}`, progress: () => JSON.stringify(nodes.map((n) => n.pipeStats))
      })
    } finally {
      source.close()
    }
  })

  it('pipeToRouter() refuses producerId and dataProducerId together', async () => {
    await assert.rejects(c.pipeToRouter({ dataProducerId: dataProducer.id, producerId: dataProducer.id, router: routerC } as never), TypeError)
  })
})
