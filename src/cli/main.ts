#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1 --v8-pool-size=1
import '../platform/promise-with-resolvers.js'
// The swarm node binary: `mediasoup-swarm start|keygen|psk|token` (docs/cli.md). A mistake of the
// user (flag, value, file, address, port) is one line on stderr and exit code 2; SIGINT or
// SIGTERM drains, then stops gracefully and exits 0. The node's modules are loaded only for commands
// that need them, so help and mistakes answer at once.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { KeyFileError } from '../errors.js'
import { isLoopbackListen } from '../node/options.js'
import { allowlist, checkAccess } from './access.js'
import { describeParseError, resolveStartSettings, startUsage } from './config.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js'
import { createLogger, describeError, enableLogLevel } from '../logger.js'
import type { LogLevel } from '../logger.js'
import type { Access } from './access.js'
import type { StartSettings } from './config.js'
import type { NodeService, NodeServiceConfig } from './node-service.js'
import type { types as ms } from 'mediasoup'

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 5000

const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const USAGE = `mediasoup-swarm ${VERSION}: a node of a peer-to-peer mediasoup SFU swarm

usage: mediasoup-swarm <command> [options]

commands:
  start            run a swarm node (see: mediasoup-swarm start --help)
  keygen <file>    create an identity key file (the node's peer id)
  psk <file>       create a pre-shared swarm key file (private swarm)
  token            print a client token for the signalling (see: mediasoup-swarm token --help)

options: -h, --help, -v, --version
`

const KEYGEN_USAGE = `usage: mediasoup-swarm keygen <file>

Creates an Ed25519 identity key file (mode 0600) for start --identity and prints its peer
id. Refuses to overwrite an existing file.
`
const PSK_USAGE = `usage: mediasoup-swarm psk <file>

Creates a pre-shared swarm key file (mode 0600) for start --swarm-key: only nodes holding
the same key connect. Refuses to overwrite an existing file.
`

const WORKER_LOG_LEVEL: Record<LogLevel, ms.WorkerLogLevel> = { none: 'none', error: 'error', warn: 'warn', info: 'warn', debug: 'debug', trace: 'debug' }

const log = createLogger('cli')

function serviceConfig (s: StartSettings, access: Access): NodeServiceConfig {
  return {
    node: {
      name: s.name,
      listen: s.listen,
      announce: s.announce,
      bootstrap: s.bootstrap,
      identityFile: s.identity,
      swarmKeyFile: s.swarmKey,
      allowPeers: access.allowPeers,
      openSwarm: s.openSwarm,
      numWorkers: s.workers,
      workerSettings: { rtcMinPort: s.rtcMinPort, rtcMaxPort: s.rtcMaxPort, logLevel: WORKER_LOG_LEVEL[s.logLevel] },
      pipeListenIp: s.mediaIp,
      pipeAnnouncedIp: s.mediaAnnouncedIp,
      capacity: s.capacity,
      fanout: s.fanout,
      maxConnections: s.maxConnections,
      addressPolicy: s.addressPolicy
    },
    http: { ...s.http, token: access.httpToken },
    signalling: s.signalling ? { listenIp: s.mediaIp, announcedIp: s.mediaAnnouncedIp, port: s.webrtcPort, tokenSecret: s.tokenSecret, allowedOrigins: s.allowedOrigins.length === 0 ? undefined : s.allowedOrigins } : undefined,
    version: VERSION,
    mediaSamplePeriodMs: s.mediaSamplePeriod * 1000
  }
}

/** The media IP must be one of this host's, or nothing can bind to it. */
function checkMediaIp (ip: string): void {
  if (ip === '0.0.0.0' || ip === '::') return
  const local = Object.values(os.networkInterfaces()).flat().some((i) => i?.address === ip)
  if (!local) throw new UsageError(`--media-ip ${ip} is not an address of this host (behind NAT, give the local IP here and the public one to --media-announced-ip)`)
}

function isLoopback (ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1'
}

/** SIGHUP reads the allowlist file again; a bad file keeps the list in force. */
function reloadAllowlistOnHangup (service: NodeService, s: StartSettings): void {
  const file = s.allowPeersFile
  if (file === undefined) return
  process.on('SIGHUP', () => {
    let peers: string[] | undefined
    try {
      peers = allowlist(s)
    } catch (err) {
      log.error('SIGHUP: allowlist not reloaded, the previous one stays: %s', (err as Error).message)
      return
    }
    service.node.setAllowedPeers(peers)
    log.info('SIGHUP: allowlist reloaded from %s: %d peers', file, peers?.length ?? 0)
  })
}

async function start (args: string[]): Promise<number> {
  const parsed = resolveStartSettings(args, process.env)
  if (parsed.help) {
    process.stdout.write(startUsage())
    return EXIT_OK
  }
  const settings = parsed.settings
  checkMediaIp(settings.mediaIp)
  enableLogLevel(settings.logLevel)
  const access = checkAccess(settings)
  const { startNodeService, StartError } = await import('./node-service.js')
  let service: NodeService
  try {
    service = await startNodeService(serviceConfig(settings, access))
  } catch (err) {
    if (err instanceof StartError) throw new UsageError(err.message)
    if (err instanceof KeyFileError) throw new UsageError(`${err.path === settings.identity ? '--identity' : '--swarm-key'}: ${err.message}`)
    throw err
  }
  const { node } = service
  // Process CPU, memory, event loop lag: the binary owns its process, a library user may not.
  const { collectDefaultMetrics } = await import('prom-client')
  collectDefaultMetrics({ register: service.metrics.registry })
  if (isLoopback(settings.mediaAnnouncedIp ?? settings.mediaIp) && !settings.listen.every((a) => /^\/ip[46]\/(127\.|::1\/)/.test(a))) {
    log.warn('media IP %s is loopback: nodes on other hosts can connect but cannot receive pipes (set --media-ip)', settings.mediaIp)
  }
  reloadAllowlistOnHangup(service, settings)
  const signalling = service.signallingUrl === undefined ? '' : ` signalling=${service.signallingUrl}`
  // Other hosts' addresses first: the first one is what an operator copies into --bootstrap.
  const multiaddrs = [...node.multiaddrs].sort((a, b) => Number(isLoopbackListen(a)) - Number(isLoopbackListen(b)))
  process.stdout.write(`mediasoup-swarm ${VERSION} started: peer=${node.peerId} multiaddrs=${multiaddrs.join(',')} http=${service.httpUrl}/${signalling} name=${node.name}\n`)
  return await runUntilStopped(service, settings.drainTimeout * 1000)
}

/**
 * Resolves with the exit code once the node stopped. A first SIGTERM or SIGINT drains the
 * node (at most `drainTimeoutMs`; 0: no drain), then stops it; a second one stops it at
 * once; a third exits without waiting. With no mediasoup worker left the node stops and
 * the process exits 1, for its supervisor to restart it.
 */
async function runUntilStopped (service: NodeService, drainTimeoutMs: number): Promise<number> {
  return await new Promise<number>((resolve) => {
    let signals = 0
    let stopping = false
    const stopNow = (reason: string, code: number): void => {
      if (stopping) return
      stopping = true
      log.info('%s: stopping', reason)
      const force = setTimeout(() => {
        log.warn('stopping took over %d ms: exiting anyway', STOP_TIMEOUT_MS)
        resolve(code)
      }, STOP_TIMEOUT_MS)
      service.stop().then(() => log.info('stopped'), (err: Error) => log.error('while stopping: %s', describeError(err))).finally(() => {
        clearTimeout(force)
        resolve(code)
      })
    }
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++
      if (signals === 1 && drainTimeoutMs > 0) {
        log.info('%s: draining (at most %d s; another signal stops at once)', signal, drainTimeoutMs / 1000)
        service.drain({ timeoutMs: drainTimeoutMs }).then((r) => {
          if (r.drained) log.info('drained in %d ms', Math.round(r.tookMs))
          else log.warn('drain timed out with %d downstream pipes left', r.downstreamPipes)
        }, (err: Error) => log.error('drain failed: %s', describeError(err))).finally(() => stopNow(signal, EXIT_OK))
        return
      }
      if (signals <= 2 && !stopping) return stopNow(signal, EXIT_OK)
      log.warn('%s while stopping: exiting now', signal)
      resolve(EXIT_OK)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    service.node.on('workerdied', (err) => {
      if (service.node.workers().length > 0) return log.warn('a mediasoup worker died (%s): replaced, the node goes on', err.message)
      stopNow(`no mediasoup worker left (${err.message})`, EXIT_FAILURE)
    })
  })
}

/** keygen/psk: write a new key file (mode 0600), never over an existing one. */
async function writeKeyFile (command: string, args: string[], usage: string, write: (file: string) => Promise<string>): Promise<number> {
  let parsed: { values: { help?: boolean }, positionals: string[] }
  try {
    parsed = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(describeParseError(err as NodeJS.ErrnoException, command))
  }
  if (parsed.values.help === true) {
    process.stdout.write(usage)
    return EXIT_OK
  }
  if (parsed.positionals.length !== 1) throw new UsageError(`${command} needs one argument, the file to write (see mediasoup-swarm ${command} --help)`)
  const file = parsed.positionals[0] as string
  if (fs.existsSync(file)) throw new UsageError(`${file} exists; not overwriting it`)
  let done: string
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
    done = await write(file)
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${(err as Error).message}`)
  }
  process.stdout.write(`${done}\n`)
  return EXIT_OK
}

async function keygen (args: string[]): Promise<number> {
  return await writeKeyFile('keygen', args, KEYGEN_USAGE, async (file) => {
    const [{ generateKeyPair }, { peerIdFromPrivateKey }, { writeIdentity }] = await Promise.all([
      import('@libp2p/crypto/keys'), import('@libp2p/peer-id'), import('../p2p/identity.js')
    ])
    const key = await generateKeyPair('Ed25519')
    await writeIdentity(file, key)
    return `wrote ${file}: peer id ${peerIdFromPrivateKey(key).toString()}`
  })
}

async function psk (args: string[]): Promise<number> {
  return await writeKeyFile('psk', args, PSK_USAGE, async (file) => {
    const { createSwarmKey } = await import('../p2p/swarm-key.js')
    fs.writeFileSync(file, createSwarmKey(), { mode: 0o600, flag: 'wx' })
    return `wrote ${file}: give it to every node of the swarm (start --swarm-key)`
  })
}

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return await start(rest)
    case 'keygen': return await keygen(rest)
    case 'psk': return await psk(rest)
    case 'token': return await (await import('./token-command.js')).tokenCommand(rest)
    case '--version': case '-v':
      process.stdout.write(`${VERSION}\n`)
      return EXIT_OK
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(USAGE)
      return EXIT_OK
    default:
      if (command.startsWith('-')) throw new UsageError(`unknown option ${command} (see mediasoup-swarm --help)`)
      throw new UsageError(`unknown command "${command}" (commands: start, keygen, psk, token; see mediasoup-swarm --help)`)
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`mediasoup-swarm: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`)
    process.exit(EXIT_USAGE)
  }
  // Not the user's mistake: the stack belongs in a bug report.
  process.stderr.write(`mediasoup-swarm: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(EXIT_FAILURE)
})
