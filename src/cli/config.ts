// Settings of `mediasoup-swarm start`. One table gives each setting its flag, environment
// variable (MEDIASOUP_SWARM_<NAME>), config file key (the flag's name), default and help;
// docs/cli.md mirrors it. Precedence: flag > environment > config file > default. Every
// value is checked here, so a mistake is one line that names where it came from.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { LOG_LEVELS } from '../logger.js'
import { DEFAULTS } from '../node/options.js'
import { isNodeName, MAX_NAME } from '../protocol/messages.js'
import { DEFAULT_COSTS, POINTS_PER_WORKER } from '../placement/capacity.js'
import { MEDIA_SAMPLE_PERIOD_MS } from '../observability/media-sampler.js'
import { UsageError } from './errors.js'
import type { LogLevel } from '../logger.js'
import type { AddressPolicy } from '../p2p/host.js'

export const ENV_PREFIX = 'MEDIASOUP_SWARM_'

export { LOG_LEVELS }
export type { LogLevel }

/** mediasoup's own default RTC port range (the workers' rtcMinPort / rtcMaxPort). */
const RTC_PORTS = { min: 10000, max: 59999 }

export interface StartSettings {
  /** Default: the host name (the library's default). */
  name?: string
  listen: string[]
  announce: string[]
  bootstrap: string[]
  identity?: string
  swarmKey?: string
  /** Peer ids of --allow-peer. */
  allowPeers: string[]
  /** One peer id a line, reloaded on SIGHUP. */
  allowPeersFile?: string
  openSwarm: boolean
  /** Bearer token /status and /metrics ask for; none: no token. */
  httpTokenFile?: string
  workers: number
  rtcMinPort: number
  rtcMaxPort: number
  mediaIp: string
  /** Default: mediaIp. */
  mediaAnnouncedIp?: string
  /** Default: workers × POINTS_PER_WORKER (the library's default). */
  capacity?: number
  fanout: number
  maxConnections: number
  addressPolicy: AddressPolicy
  http: { host: string, port: number }
  signalling: boolean
  tokenSecret?: string
  /** Signalling without a token on a non-loopback address, knowingly. */
  openSignalling: boolean
  /** Origins whose pages may use the signalling; empty: any. */
  allowedOrigins: string[]
  /** WebRTC port of the first worker (UDP and TCP); worker i uses webrtcPort + i. 0: free ports of the RTC range. */
  webrtcPort: number
  logLevel: LogLevel
  /** Seconds a SIGTERM or SIGINT drains the node before stopping it; 0: no drain. */
  drainTimeout: number
  /** Seconds between two media-quality rounds (MediaTracker samplePeriodMs). */
  mediaSamplePeriod: number
}

export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/4001'
/**
 * Seconds of drain on SIGTERM: inside Kubernetes' default 30 s grace period, with room for
 * the stop after it.
 */
export const DEFAULT_DRAIN_TIMEOUT_S = 25
export const DEFAULT_HTTP = '127.0.0.1:7070'

function defaults (): StartSettings {
  return {
    listen: [DEFAULT_LISTEN],
    announce: [],
    bootstrap: [],
    allowPeers: [],
    openSwarm: false,
    workers: DEFAULTS.numWorkers,
    rtcMinPort: RTC_PORTS.min,
    rtcMaxPort: RTC_PORTS.max,
    mediaIp: DEFAULTS.pipeListenIp,
    fanout: DEFAULTS.fanout,
    maxConnections: DEFAULTS.maxConnections,
    addressPolicy: DEFAULTS.addressPolicy,
    http: { host: '127.0.0.1', port: 7070 },
    signalling: false,
    openSignalling: false,
    allowedOrigins: [],
    webrtcPort: 0,
    logLevel: 'info',
    drainTimeout: DEFAULT_DRAIN_TIMEOUT_S,
    mediaSamplePeriod: MEDIA_SAMPLE_PERIOD_MS / 1000
  }
}

/** A value that fails its check; the caller prefixes where it came from. */
class Invalid extends Error {}

type RawValue = string | string[] | boolean

export interface Setting {
  /** Flag without dashes, and key in the config file. */
  name: string
  kind: 'string' | 'list' | 'boolean'
  /** Shown after the flag in help, e.g. `<port>`. */
  placeholder: string
  /** The default, in words. */
  defaultText: string
  help: string
  /** A file path: relative paths in a config file are relative to that file. */
  isPath: boolean
  apply: (settings: StartSettings, value: RawValue) => void
}

function text (name: string, placeholder: string, defaultText: string, help: string, apply: (s: StartSettings, v: string) => void, isPath = false): Setting {
  return { name, kind: 'string', placeholder, defaultText, help, isPath, apply: (s, v) => apply(s, v as string) }
}

function list (name: string, defaultText: string, help: string, apply: (s: StartSettings, v: string[]) => void, placeholder = '<multiaddr>'): Setting {
  return { name, kind: 'list', placeholder, defaultText, help, isPath: false, apply: (s, v) => apply(s, v as string[]) }
}

function toggle (name: string, help: string, apply: (s: StartSettings, v: boolean) => void): Setting {
  return { name, kind: 'boolean', placeholder: '', defaultText: 'off', help, isPath: false, apply: (s, v) => apply(s, v as boolean) }
}

function integer (value: string, min: number, max: number, what: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(`must be ${what} (got "${value}")`)
  return n
}

const positiveInteger = (value: string): number => integer(value, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
const port = (value: string): number => integer(value, 1, 65535, 'a port number from 1 to 65535')
const portOrZero = (value: string): number => integer(value, 0, 65535, 'a port number from 0 to 65535')

function nonNegativeNumber (value: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN
  if (!(n >= 0) || !Number.isFinite(n)) throw new Invalid(`must be a number ≥ 0 (got "${value}")`)
  return n
}

function positiveNumber (value: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN
  if (!(n > 0) || !Number.isFinite(n)) throw new Invalid(`must be a positive number (got "${value}")`)
  return n
}

function atLeast (n: number, min: number): number {
  if (n < min) throw new Invalid(`must be at least ${min} (got "${n}")`)
  return n
}

function ip (value: string): string {
  if (net.isIP(value) === 0) throw new Invalid(`must be an IPv4 or IPv6 address (got "${value}")`)
  return value
}

function oneOf<T extends string> (value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Invalid(`must be one of ${allowed.join(', ')} (got "${value}")`)
  return value as T
}

function multiaddrs (values: string[], need: { tcp?: boolean, peerId?: boolean }): string[] {
  return values.map((value) => {
    let names: string[]
    try {
      names = multiaddr(value).getComponents().map((c) => c.name)
    } catch (err) {
      throw new Invalid(`"${value}" is not a multiaddr (${(err as Error).message})`)
    }
    if (need.tcp === true && !names.includes('tcp')) throw new Invalid(`"${value}" is not a TCP address like /ip4/0.0.0.0/tcp/4001`)
    if (need.peerId === true && names.at(-1) !== 'p2p') throw new Invalid(`"${value}" has no /p2p/<peerId> part (use an address a node prints at start)`)
    return value
  })
}

function hostPort (value: string): { host: string, port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)$/.exec(value)
  const host = match?.[1] ?? match?.[2]
  if (match === null || host === undefined || net.isIP(host) === 0) {
    throw new Invalid(`must be <ip>:<port>, e.g. ${DEFAULT_HTTP} or [::1]:7070 (got "${value}")`)
  }
  return { host, port: portOrZero(match[3] as string) }
}

/** An origin as browsers send it: http(s)://host[:port], no path. */
function origin (value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== value.replace(/\/$/, '').toLowerCase()) {
    throw new Invalid(`must be an origin like https://app.example (got "${value}")`)
  }
  return url.origin
}

function peerId (value: string): string {
  try {
    peerIdFromString(value)
  } catch {
    throw new Invalid(`"${value}" is not a peer id (mediasoup-swarm keygen prints one)`)
  }
  return value
}

function nodeName (value: string): string {
  const given = value.slice(0, 80)
  if (!isNodeName(value)) throw new Invalid(`must be 1-${MAX_NAME} characters of A-Z a-z 0-9 . _ - (got "${given}")`)
  return value
}

function secret (value: string): string {
  // RFC 7518 §3.2: an HS256 key has at least 256 bits.
  if (value.length < 32) throw new Invalid('must be at least 32 characters')
  return value
}

/** Every setting of `start`, in the order help and docs/cli.md list them. */
export const SETTINGS: readonly Setting[] = [
  text('name', '<name>', 'the host name', `the node's name on status pages (its own and its peers'), in /status and the start line: 1-${MAX_NAME} characters of A-Z a-z 0-9 . _ -`,
    (s, v) => { s.name = nodeName(v) }),
  list('listen', DEFAULT_LISTEN, 'libp2p TCP listen address; repeat the flag (or comma-separate) for several; one other than loopback needs --swarm-key, an allowlist or --open-swarm',
    (s, v) => { s.listen = multiaddrs(v, { tcp: true }) }),
  list('announce', 'none', 'extra address announced to other nodes (public address behind NAT)',
    (s, v) => { s.announce = multiaddrs(v, {}) }),
  list('bootstrap', 'none: first node', 'address with /p2p/<peerId> of a node to join through',
    (s, v) => { s.bootstrap = multiaddrs(v, { peerId: true }) }),
  text('identity', '<file>', 'none: a new peer id each start', 'identity key file (make one with `keygen`); created when missing, so the peer id survives restarts',
    (s, v) => { s.identity = v }, true),
  text('swarm-key', '<file>', 'none: open swarm', 'pre-shared swarm key file (make one with `psk`): only nodes with the same key connect',
    (s, v) => { s.swarmKey = v }, true),
  list('allow-peer', 'none: any peer', 'peer id allowed to connect (with those of --bootstrap); any other is refused in the handshake; repeat for several',
    (s, v) => { s.allowPeers = v.map(peerId) }, '<peerId>'),
  text('allow-peers-file', '<file>', 'none', 'file of allowed peer ids, one a line (# comments), added to --allow-peer; SIGHUP reloads it',
    (s, v) => { s.allowPeersFile = v }, true),
  toggle('open-swarm', 'let any peer that reaches a non-loopback --listen address join, with neither --swarm-key nor an allowlist (docs/security.md)',
    (s, v) => { s.openSwarm = v }),
  text('workers', '<n>', String(DEFAULTS.numWorkers), 'mediasoup workers (one CPU core each)',
    (s, v) => { s.workers = positiveInteger(v) }),
  text('rtc-min-port', '<port>', String(RTC_PORTS.min), 'lowest UDP port of pipes (and of the WebRTC server with --webrtc-port 0)',
    (s, v) => { s.rtcMinPort = port(v) }),
  text('rtc-max-port', '<port>', String(RTC_PORTS.max), 'highest such port',
    (s, v) => { s.rtcMaxPort = port(v) }),
  text('media-ip', '<ip>', DEFAULTS.pipeListenIp, 'IP pipes and the WebRTC server listen on; a LAN or public IP when nodes are on different hosts',
    (s, v) => { s.mediaIp = ip(v) }),
  text('media-announced-ip', '<ip>', 'the media IP', 'IP other nodes and browsers send media to (NAT, containers); required with --media-ip 0.0.0.0 or ::',
    (s, v) => { s.mediaAnnouncedIp = ip(v) }),
  text('capacity', '<points>', `workers × ${POINTS_PER_WORKER}`, `capacity in scaling points (video consumer or pipe ${DEFAULT_COSTS.videoPipe}, audio ${DEFAULT_COSTS.audioPipe})`,
    (s, v) => { s.capacity = positiveNumber(v) }),
  text('fanout', '<n>', String(DEFAULTS.fanout), 'most downstream pipes served per producer; more requesters are redirected to relays',
    (s, v) => { s.fanout = positiveInteger(v) }),
  text('max-connections', '<n>', String(DEFAULTS.maxConnections), 'libp2p connections kept at rest; past it the lowest-valued are closed once 10 s old (never a pipe peer\'s); inbound ones are refused past twice this',
    (s, v) => { s.maxConnections = positiveInteger(v) }),
  text('address-policy', '<policy>', DEFAULTS.addressPolicy, 'peer addresses the DHT keeps: all, private (LAN-only swarm) or public (internet swarm)',
    (s, v) => { s.addressPolicy = oneOf(v, ['all', 'private', 'public'] as const) }),
  text('http', '<ip:port>', DEFAULT_HTTP, 'HTTP address of the status page, /status, /metrics, /healthz, /readyz and /ws; port 0 picks a free one (the URL is printed)',
    (s, v) => { s.http = hostPort(v) }),
  text('http-token-file', '<file>', 'none: no token', 'file holding a bearer token (≥ 16 characters) that /status and /metrics ask for (401 without it; /healthz and /readyz do not)',
    (s, v) => { s.httpTokenFile = v }, true),
  toggle('signalling', 'serve WebSocket signalling for mediasoup-client browsers on /ws (docs/client-signalling.md)',
    (s, v) => { s.signalling = v }),
  text('token-secret', '<secret>', 'none: no token needed', 'signalling clients need a token (JWT, HS256) signed with this secret (≥ 32 characters; mint one with `token`); set it in the environment or the config file, where other users cannot read it',
    (s, v) => { s.tokenSecret = secret(v) }),
  toggle('open-signalling', 'allow --signalling without --token-secret on a non-loopback --http address: anyone who reaches it may publish and consume',
    (s, v) => { s.openSignalling = v }),
  { ...list('allowed-origin', 'any', 'origin (https://app.example) whose pages may use the signalling; repeat for several',
    (s, v) => { s.allowedOrigins = v.map(origin) }), placeholder: '<origin>' },
  text('drain-timeout', '<seconds>', String(DEFAULT_DRAIN_TIMEOUT_S), 'on SIGTERM or SIGINT the node first drains (takes no new pulls, moves what it relays to other nodes, docs/resilience.md) for at most this long, then stops; a second signal stops at once; 0: stop at once',
    (s, v) => { s.drainTimeout = nonNegativeNumber(v) }),
  text('media-sample-period', '<seconds>', String(MEDIA_SAMPLE_PERIOD_MS / 1000), 'seconds between two reads of every producer\'s and consumer\'s stats for the media-quality metrics and /status (docs/metrics.md#media-quality); at least 0.1',
    (s, v) => { s.mediaSamplePeriod = atLeast(positiveNumber(v), 0.1) }),
  text('webrtc-port', '<port>', '0', 'UDP and TCP port of the WebRTC server for browsers (worker i: port + i); 0 picks free ports from the RTC range',
    (s, v) => { s.webrtcPort = portOrZero(v) }),
  text('log-level', '<level>', 'info', `${LOG_LEVELS.join(', ')}: what the node logs on stderr (DEBUG=mediasoup-swarm:* namespaces, see docs/operations.md); also the mediasoup workers' level`,
    (s, v) => { s.logLevel = oneOf(v, LOG_LEVELS) })
]

/** `--config <file>`, read below flags and environment. */
export const CONFIG_HELP = 'JSON file of settings: {"<flag name>": value}; lists as arrays, paths relative to the file'

export function envName (settingName: string): string {
  return ENV_PREFIX + settingName.toUpperCase().replaceAll('-', '_')
}

interface Source {
  /** How a message names a setting of this source: `--fanout`, `MEDIASOUP_SWARM_FANOUT`, `"fanout" in node.json`. */
  label: (name: string) => string
  values: Map<string, RawValue>
}

function parseBoolean (value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new Invalid(`must be true or false (got "${value}")`)
}

function splitList (value: string): string[] {
  return value.split(/[\s,]+/).filter((v) => v !== '')
}

function fromEnv (env: NodeJS.ProcessEnv): Source {
  const values = new Map<string, RawValue>()
  const known = new Map(SETTINGS.map((s) => [envName(s.name), s]))
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined || key === envName('config')) continue
    const setting = known.get(key)
    // A misspelt variable would otherwise be ignored without a word.
    if (setting === undefined) throw new UsageError(`${key} is not a setting (see mediasoup-swarm start --help)`)
    try {
      values.set(setting.name, setting.kind === 'list' ? splitList(value) : setting.kind === 'boolean' ? parseBoolean(value) : value)
    } catch (err) {
      throw new UsageError(`${key} ${(err as Error).message}`)
    }
  }
  return { label: envName, values }
}

function fromConfigFile (file: string, label: string): Source {
  let data: unknown
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const reason = err instanceof SyntaxError ? `not JSON (${err.message})` : code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message
    throw new UsageError(`${label} ${file}: ${reason}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`${label} ${file}: must hold a JSON object of settings`)
  const where = (name: string): string => `"${name}" in ${file}`
  const dir = path.dirname(path.resolve(file))
  const known = new Map(SETTINGS.map((s) => [s.name, s]))
  const values = new Map<string, RawValue>()
  for (const [name, value] of Object.entries(data)) {
    const setting = known.get(name)
    if (setting === undefined) throw new UsageError(`${where(name)} is not a setting (see mediasoup-swarm start --help)`)
    try {
      values.set(name, configValue(setting, value, dir))
    } catch (err) {
      throw new UsageError(`${where(name)} ${(err as Error).message}`)
    }
  }
  return { label: where, values }
}

function configValue (setting: Setting, value: unknown, dir: string): RawValue {
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v
    if (typeof v === 'number' && Number.isFinite(v)) return String(v)
    throw new Invalid(`must be a string or a number (got ${JSON.stringify(v)})`)
  }
  switch (setting.kind) {
    case 'list': return Array.isArray(value) ? value.map(scalar) : splitList(scalar(value))
    case 'boolean': return typeof value === 'boolean' ? value : parseBoolean(scalar(value))
    case 'string': return setting.isPath ? path.resolve(dir, scalar(value)) : scalar(value)
  }
}

type ParsedValues = Record<string, string | boolean | Array<string | boolean> | undefined>

function fromArgs (args: string[]): { source: Source, help: boolean, config: string | undefined } {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    config: { type: 'string' }
  }
  for (const s of SETTINGS) options[s.name] = s.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: true }
  let values: ParsedValues
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as ParsedValues
  } catch (err) {
    throw new UsageError(describeParseError(err as NodeJS.ErrnoException, 'start'))
  }
  const source: Source = { label: (name) => `--${name}`, values: new Map() }
  for (const s of SETTINGS) {
    const value = values[s.name]
    if (value === undefined) continue
    if (s.kind === 'boolean') {
      source.values.set(s.name, value as boolean)
      continue
    }
    const given = (value as string[]).flatMap((v) => s.kind === 'list' ? splitList(v) : [v])
    // A value given twice is more likely a mistake than a wish for the last one.
    if (s.kind === 'string' && given.length > 1) throw new UsageError(`--${s.name} was given ${given.length} times`)
    source.values.set(s.name, s.kind === 'list' ? given : given[0] as string)
  }
  return { source, help: values.help === true, config: values.config as string | undefined }
}

/** One line for a node:util parseArgs error. */
export function describeParseError (err: NodeJS.ErrnoException, command: string): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? ''
  const flag = quoted.split(' ')[0] ?? quoted
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted} (see mediasoup-swarm ${command} --help)`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `${command} takes no argument "${quoted}" (see mediasoup-swarm ${command} --help)`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (err.message.includes('does not take an argument')) return `${flag} takes no value`
      return `${flag} needs a value (write ${flag}=<value> for a value that starts with -)`
    default:
      return err.message.split('\n')[0] ?? err.message
  }
}

export type StartArgs = { help: true } | { help: false, settings: StartSettings }

/** `start`'s settings from its arguments, the environment and the config file. */
export function resolveStartSettings (args: string[], env: NodeJS.ProcessEnv): StartArgs {
  const cli = fromArgs(args)
  if (cli.help) return { help: true }
  const configFile = cli.config ?? env[envName('config')]
  const sources: Source[] = []
  if (configFile !== undefined) sources.push(fromConfigFile(configFile, cli.config !== undefined ? '--config' : envName('config')))
  sources.push(fromEnv(env), cli.source)
  const settings = defaults()
  for (const source of sources) {
    for (const setting of SETTINGS) {
      const value = source.values.get(setting.name)
      if (value === undefined) continue
      try {
        setting.apply(settings, value)
      } catch (err) {
        if (err instanceof Invalid) throw new UsageError(`${source.label(setting.name)} ${err.message}`)
        throw err
      }
    }
  }
  checkTogether(settings)
  return { help: false, settings }
}

function checkTogether (s: StartSettings): void {
  if (s.rtcMinPort > s.rtcMaxPort) throw new UsageError(`--rtc-min-port (${s.rtcMinPort}) is above --rtc-max-port (${s.rtcMaxPort})`)
  if ((s.mediaIp === '0.0.0.0' || s.mediaIp === '::') && s.mediaAnnouncedIp === undefined) {
    throw new UsageError(`--media-ip ${s.mediaIp} listens on every interface: --media-announced-ip must say which IP other nodes and browsers reach`)
  }
  if (s.signalling && s.tokenSecret === undefined && !s.openSignalling && !isLoopbackHost(s.http.host)) {
    throw new UsageError(`--signalling on ${s.http.host} without --token-secret lets anyone who reaches it publish and consume: give --token-secret, or --open-signalling to allow it`)
  }
  if (s.signalling && s.webrtcPort !== 0 && s.webrtcPort + s.workers - 1 > 65535) {
    throw new UsageError(`--webrtc-port ${s.webrtcPort} leaves no port for each of ${s.workers} workers (up to 65535)`)
  }
}

export function isLoopbackHost (host: string): boolean {
  return host.startsWith('127.') || host === '::1'
}

/** Help of `start`, generated from the table. */
export function startUsage (): string {
  const flag = (s: Setting): string => `--${s.name}${s.placeholder === '' ? '' : ` ${s.placeholder}`}`
  const rows = [
    `  ${'--config <file>'.padEnd(30)} ${CONFIG_HELP}`,
    ...SETTINGS.map((s) => `  ${flag(s).padEnd(30)} ${s.help} (default: ${s.defaultText})`)
  ]
  return `usage: mediasoup-swarm start [options]

Runs a swarm node with a live status page (/), /status (JSON), /metrics (Prometheus) and
the probes /healthz and /readyz on its HTTP address, and optionally WebSocket signalling
for browsers (/ws).

${rows.join('\n')}
  ${'-h, --help'.padEnd(30)} this help

Every setting can also be an environment variable MEDIASOUP_SWARM_<NAME> (e.g.
MEDIASOUP_SWARM_FANOUT, MEDIASOUP_SWARM_RTC_MIN_PORT; lists comma-separated, booleans
true/false) or a key of the --config file. A flag wins over a variable, which wins over
the file. SIGINT or SIGTERM stops the node gracefully.
`
}
