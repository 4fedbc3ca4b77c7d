// The real-media test harness: synthetic RTP sources and exact sinks on real mediasoup
// routers, pipes between routers, waits with deadlines, and report numbers.
export * from './wait.js'
export * from './report.js'
export * from './rtp-packet.js'
export * from './rtp-source.js'
export * from './rtp-sink.js'
export * from './pipe-pair.js'
