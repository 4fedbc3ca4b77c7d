// Loaded by mocha before any test file (see .mocharc.json): Promise.withResolvers for Node 20.
import '../../src/platform/promise-with-resolvers.ts'
