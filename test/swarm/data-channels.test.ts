import assert from 'node:assert/strict'
import { createSwarmNode, ProducerNotFoundError } from '../../src/index.js'
import { createRtpSink, createRtpSource, waitFor, waitForEvent } from '../harness/index.js'
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

  it('pause and resume at A reach the copies on B and C', async () => {
    const { copyB, copyC } = await pullThroughRelay()
    await dataProducer.pause()
    await waitFor(() => copyB.paused && copyC.paused, { what: 'copies paused' })
    await dataProducer.resume()
    await waitFor(() => !copyB.paused && !copyC.paused, { what: 'copies resumed' })
  })

  it('when relay B stops, C restores its copy from A (dataproducerrestored) and messages flow again', async () => {
    const { copyC } = await pullThroughRelay()
    const restored = waitForEvent(c, 'dataproducerrestored', 20_000)
    await b.stop()
    const [event] = await restored as [{ dataProducerId: string, router: ms.Router, pipeDataProducer: ms.DataProducer, gapMs: number }]
    assert.ok(copyC.closed)
    assert.equal(event.dataProducerId, dataProducer.id)
    assert.equal(event.router, routerC)
    assert.equal(event.pipeDataProducer.id, dataProducer.id)
    assert.equal(c.getDistribution(dataProducer.id)?.upstream, a.peerId)
    const atC = await receiver(routerC, dataProducer.id)
    for (let i = 0; i < 100; i++) dataProducer.send(`r${i}`)
    await waitFor(() => atC.messages.length >= 100, { timeoutMs: 10_000, what: '100 messages at C after the restore', progress: () => `${atC.messages.length}` })
    assert.deepEqual(atC.messages, Array.from({ length: 100 }, (_, i) => `r${i}`))
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

describe('data channels across nodes: a full origin recruits a relay', function () {
  this.timeout(60_000)
  let nodes: SwarmNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
  })

  it('A (fan-out 1) and its only relay B are full: A recruits idle D, and C gets the data producer through D', async () => {
    const a = await createSwarmNode({ fanout: 1 })
    const b = await createSwarmNode({ bootstrap: a.multiaddrs, capacity: 1, recruitReserve: 0 })
    const c = await createSwarmNode({ bootstrap: a.multiaddrs })
    const d = await createSwarmNode({ bootstrap: a.multiaddrs })
    nodes = [a, b, c, d]
    await waitConnected(nodes)
    const routerA = await a.createRouter({ mediaCodecs })
    const dataProducer = await (await routerA.createDirectTransport()).produceData({ label: 'chat' })
    const routerB = await b.createRouter({ mediaCodecs })
    await b.pipeToRouter({ dataProducerId: dataProducer.id, router: routerB })
    // B's own client fills it.
    const local = await createRtpSource({ router: routerB, kind: 'audio' })
    const sink = await createRtpSink({ router: routerB, producerId: local.producer.id })
    try {
      await waitFor(() => b.capacity.spare === 0, { what: 'B full' })
      const routerC = await c.createRouter({ mediaCodecs })
      await c.pipeToRouter({ dataProducerId: dataProducer.id, router: routerC })
      assert.deepEqual(a.getDistribution(dataProducer.id)?.downstream.sort(), [b.peerId, d.peerId].sort())
      assert.equal(d.getDistribution(dataProducer.id)?.upstream, a.peerId)
      assert.equal(c.getDistribution(dataProducer.id)?.upstream, d.peerId)
      assert.deepEqual(d.dataProducerIds(), [dataProducer.id])
      const atC = await receiver(routerC, dataProducer.id)
      for (let i = 0; i < 100; i++) dataProducer.send(`d${i}`)
      await waitFor(() => atC.messages.length >= 100, { timeoutMs: 10_000, what: '100 messages at C through D', progress: () => `${atC.messages.length}` })
      assert.deepEqual(atC.messages, Array.from({ length: 100 }, (_, i) => `d${i}`))
    } finally {
      sink.close()
      local.close()
    }
  })
})
