#!/usr/bin/env node
import '../platform/promise-with-resolvers.js'
// The swarm node binary: `mediasoup-swarm start|keygen|psk`. Every mistake of the user is
// one line on stderr and exit code 2; a stop on SIGINT/SIGTERM is graceful and exits 0.
import fs from 'node:fs'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createSwarmKey, KeyFileError } from '../index.js'
import { writeIdentity } from '../p2p/identity.js'
import { SETTINGS, envName, startConfig, UsageError } from './config.js'
import { startNodeService, StartError } from './node-service.js'
import type { NodeService } from './node-service.js'

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 5000

const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const USAGE = `mediasoup-swarm ${VERSION}: a node of a peer-to-peer mediasoup SFU swarm

usage: mediasoup-swarm <command> [options]

commands:
  start            run a swarm node (see: mediasoup-swarm start --help)
  keygen <file>    create an identity key file (the node's peer id)
  psk <file>       create a pre-shared swarm key file (private swarm)

options: --help, --version`

function startUsage (): string {
  const rows = SETTINGS.map((s) => {
    const flag = `--${s.name}${s.kind === 'boolean' ? '' : s.kind === 'list' ? ' <a,b>' : ` <${s.kind === 'string' ? 'value' : 'n'}>`}`
    return `  ${flag.padEnd(30)} ${s.help}${s.default !== undefined && s.kind !== 'boolean' ? ` (default ${s.default})` : ''}\n  ${''.padEnd(30)} env ${envName(s.name)}`
  })
  return `usage: mediasoup-swarm start [options]

Runs a swarm node with HTTP /metrics, /status and a live status page; optionally browser
signalling. Every option can also come from the environment or from --config <file.json>
(keys are the option names); flags win over the environment, which wins over the file.

  --config <file>                JSON file of settings
${rows.join('\n')}`
}

const KEYGEN_USAGE = 'usage: mediasoup-swarm keygen <file>\n\nCreates an Ed25519 identity key file (mode 0600) for --identity; refuses to overwrite one.'
const PSK_USAGE = 'usage: mediasoup-swarm psk <file>\n\nCreates a pre-shared swarm key file for --swarm-key; refuses to overwrite one. Only nodes with the same key connect.'

function parse (args: string[], options: NonNullable<ParseArgsConfig['options']>): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    // parseArgs' messages name the flag; keep their first sentence.
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''))
  }
}

async function start (args: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = { help: { type: 'boolean' }, config: { type: 'string' } }
  for (const s of SETTINGS) options[s.name] = s.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' }
  const { values, positionals } = parse(args, options)
  if (values.help === true) { console.log(startUsage()); return }
  if (positionals.length > 0) throw new UsageError(`start takes no arguments (got "${positionals[0]}")`)
  const config = startConfig(values as Record<string, string | string[] | boolean | undefined>, process.env)

  let service: NodeService
  try {
    service = await startNodeService(config)
  } catch (err) {
    if (err instanceof StartError || err instanceof KeyFileError) throw new UsageError(err.message)
    throw err
  }
  const { node } = service
  console.log(`mediasoup-swarm ${VERSION} node ${node.peerId}`)
  for (const a of node.multiaddrs) console.log(`  listening ${a}`)
  console.log(`  status page ${service.httpUrl}/  metrics ${service.httpUrl}/metrics`)
  if (service.signallingUrl !== undefined) console.log(`  browser signalling ${service.signallingUrl}`)
  node.on('workerdied', (err) => { console.error(`mediasoup-swarm: a mediasoup worker died (${err.message}); stopping`) })

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      console.log(`${signal}: stopping`)
      const force = setTimeout(() => {
        console.error(`mediasoup-swarm: stop took longer than ${STOP_TIMEOUT_MS} ms; exiting`)
        process.exit(1)
      }, STOP_TIMEOUT_MS)
      force.unref()
      service.stop().then(() => { console.log('stopped'); resolve() }, (err: Error) => {
        console.error(`mediasoup-swarm: error while stopping: ${err.message}`)
        resolve()
      })
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
}

/** keygen/psk: write a new key file, never over an existing one. */
async function writeKeyFile (args: string[], usage: string, write: (file: string) => Promise<void>): Promise<void> {
  const { values, positionals } = parse(args, { help: { type: 'boolean' } })
  if (values.help === true) { console.log(usage); return }
  if (positionals.length !== 1) throw new UsageError(`expected one file name (${usage.split('\n')[0]})`)
  const file = positionals[0]!
  if (fs.existsSync(file)) throw new UsageError(`${file} exists; not overwriting it`)
  try {
    await write(file)
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${(err as Error).message}`)
  }
  console.log(`wrote ${file}`)
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return await start(rest)
    case 'keygen': return await writeKeyFile(rest, KEYGEN_USAGE, async (file) => await writeIdentity(file, await generateKeyPair('Ed25519')))
    case 'psk': return await writeKeyFile(rest, PSK_USAGE, async (file) => fs.writeFileSync(file, createSwarmKey(), { mode: 0o600, flag: 'wx' }))
    case '--version': case '-v': console.log(VERSION); return
    case undefined: case '--help': case '-h': case 'help': console.log(USAGE); return
    default: throw new UsageError(`unknown command "${command}" (commands: start, keygen, psk)`)
  }
}

main(process.argv.slice(2)).then(() => process.exit(0), (err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`mediasoup-swarm: ${err.message}`)
    process.exit(2)
  }
  console.error(`mediasoup-swarm: ${err instanceof Error ? err.stack : String(err)}`)
  process.exit(1)
})
