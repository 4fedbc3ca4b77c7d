// The settings of `mediasoup-swarm start`. One table gives each its flag, its environment
// variable (MEDIASOUP_SWARM_<NAME>), its config file key (the flag's name), its default and
// its help; docs/cli.md shows the same table. A flag wins over a variable, which wins over
// the config file. Every value is checked here, so a mistake is one line naming its source.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { UsageError } from './errors.js'
import type { AddressPolicy } from '../p2p/host.js'

export const ENV_PREFIX = 'MEDIASOUP_SWARM_'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface HttpListen {
  host: string
  /** 0: a free port, printed at start. */
  port: number
}

export interface StartSettings {
  listen: string[]
  announce: string[]
  bootstrap: string[]
  identity?: string
  swarmKey?: string
  workers: number
  rtcMinPort: number
  rtcMaxPort: number
  mediaIp: string
  /** Default: mediaIp. */
  mediaAnnouncedIp?: string
  /** Default: workers × POINTS_PER_WORKER (the library's default). */
  capacity?: number
  fanout: number
  addressPolicy: AddressPolicy
  httpListen: HttpListen
  signalling: boolean
  signallingSecret?: string
  /** First worker's WebRTC port (UDP and TCP); worker i uses webrtcPort + i. 0: any free port of the RTC range. */
  webrtcPort: number
  logLevel: LogLevel
}

export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/7000'
export const DEFAULT_HTTP_PORT = 7070
export const DEFAULT_WEBRTC_PORT = 7001

function defaults (): StartSettings {
  return {
    listen: [DEFAULT_LISTEN],
    announce: [],
    bootstrap: [],
    workers: 1,
    rtcMinPort: 10000,
    rtcMaxPort: 59999,
    mediaIp: '127.0.0.1',
    fanout: 4,
    addressPolicy: 'all',
    httpListen: { host: '127.0.0.1', port: DEFAULT_HTTP_PORT },
    signalling: false,
    webrtcPort: DEFAULT_WEBRTC_PORT,
    logLevel: 'info'
  }
}

/** A value that fails its check; the resolver prefixes where it came from. */
class Invalid extends Error {}

type RawValue = string | string[] | boolean

export interface Setting {
  /** Flag without dashes, and key in the config file. */
  name: string
  kind: 'string' | 'list' | 'boolean'
  /** Shown in help after the flag, e.g. `<port>`. */
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

function list (name: string, placeholder: string, defaultText: string, help: string, apply: (s: StartSettings, v: string[]) => void): Setting {
  return { name, kind: 'list', placeholder, defaultText, help, isPath: false, apply: (s, v) => apply(s, v as string[]) }
}

function toggle (name: string, defaultText: string, help: string, apply: (s: StartSettings, v: boolean) => void): Setting {
  return { name, kind: 'boolean', placeholder: '', defaultText, help, isPath: false, apply: (s, v) => apply(s, v as boolean) }
}

function integer (value: string, min: number, max: number, what: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(`must be ${what} (got "${value}")`)
  return n
}

const positiveInteger = (value: string): number => integer(value, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
const port = (value: string, min = 1): number => integer(value, min, 65535, min === 0 ? 'a port number from 0 to 65535' : 'a port number from 1 to 65535')

function positiveNumber (value: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN
  if (!(n > 0) || !Number.isFinite(n)) throw new Invalid(`must be a positive number (got "${value}")`)
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
      throw new Invalid(`"${value}" is not a valid multiaddr (${(err as Error).message})`)
    }
    if (need.tcp === true && !names.includes('tcp')) throw new Invalid(`"${value}" must be a TCP address like /ip4/0.0.0.0/tcp/7000`)
    if (need.peerId === true && names.at(-1) !== 'p2p') throw new Invalid(`"${value}" must end with /p2p/<peer id> (the address a node prints at start)`)
    return value
  })
}

function httpListen (value: string): HttpListen {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d+)$/.exec(value)
  const host = match?.[1] ?? match?.[2]
  if (match === null || host === undefined) throw new Invalid(`must be <host>:<port>, e.g. 127.0.0.1:${DEFAULT_HTTP_PORT} or [::1]:${DEFAULT_HTTP_PORT} (got "${value}")`)
  return { host, port: port(match[3] as string, 0) }
}

function secret (value: string): string {
  if (value.length < 16) throw new Invalid('must be at least 16 characters')
  return value
}

/** Every setting of `start`, in the order help and docs/cli.md list them. */
export const SETTINGS: readonly Setting[] = [
  list('listen', '<multiaddr>', DEFAULT_LISTEN, 'libp2p TCP listen address; repeat for several',
    (s, v) => { s.listen = multiaddrs(v, { tcp: true }) }),
  list('announce', '<multiaddr>', 'none', 'extra address other nodes should dial (public address behind NAT); repeatable',
    (s, v) => { s.announce = multiaddrs(v, {}) }),
  list('bootstrap', '<multiaddr>', 'none (first node)', 'address with /p2p/<peer id> of a node to join through; repeatable',
    (s, v) => { s.bootstrap = multiaddrs(v, { peerId: true }) }),
  text('identity', '<file>', 'none: a new peer id each start', 'identity key file (see keygen); created when missing, so the peer id survives restarts',
    (s, v) => { s.identity = v }, true),
  text('swarm-key', '<file>', 'none: open swarm', 'pre-shared swarm key file (see psk): only nodes with the same key connect',
    (s, v) => { s.swarmKey = v }, true),
  text('workers', '<n>', '1', 'mediasoup workers (one CPU core each)',
    (s, v) => { s.workers = positiveInteger(v) }),
  text('rtc-min-port', '<port>', '10000', 'lowest UDP port of pipes (and of WebRTC when --webrtc-port is 0)',
    (s, v) => { s.rtcMinPort = port(v) }),
  text('rtc-max-port', '<port>', '59999', 'highest such port',
    (s, v) => { s.rtcMaxPort = port(v) }),
  text('media-ip', '<ip>', '127.0.0.1', 'IP that pipes and WebRTC listen on; a LAN or public IP when nodes are on different hosts',
    (s, v) => { s.mediaIp = ip(v) }),
  text('media-announced-ip', '<ip>', 'the media IP', 'IP other nodes and browsers send media to (NAT, containers); required when --media-ip is 0.0.0.0 or ::',
    (s, v) => { s.mediaAnnouncedIp = ip(v) }),
  text('capacity', '<points>', 'workers × 2000', 'capacity in scaling points (video consumer or pipe 4, audio 1)',
    (s, v) => { s.capacity = positiveNumber(v) }),
  text('fanout', '<n>', '4', 'most downstream pipes served per producer; further requesters are sent to relays',
    (s, v) => { s.fanout = positiveInteger(v) }),
  text('address-policy', '<policy>', 'all', 'peer addresses the DHT keeps: all, private (LAN-only swarm) or public (internet swarm)',
    (s, v) => { s.addressPolicy = oneOf(v, ['all', 'private', 'public'] as const) }),
  text('http-listen', '<host:port>', `127.0.0.1:${DEFAULT_HTTP_PORT}`, 'HTTP address of the status page, /status, /metrics and /ws; port 0 picks a free one',
    (s, v) => { s.httpListen = httpListen(v) }),
  toggle('signalling', 'off', 'serve client signalling for browsers (mediasoup-client) on /ws',
    (s, v) => { s.signalling = v }),
  text('signalling-secret', '<secret>', 'none: no token needed', 'require client tokens signed with this secret (≥ 16 characters); prefer the variable or the config file to the flag, which other users can see',
    (s, v) => { s.signallingSecret = secret(v) }),
  text('webrtc-port', '<port>', String(DEFAULT_WEBRTC_PORT), 'UDP and TCP port of the first worker\'s WebRTC server (worker i: port + i); 0 picks free ports from the RTC range',
    (s, v) => { s.webrtcPort = port(v, 0) }),
  text('log-level', '<level>', 'info', 'error, warn, info or debug',
    (s, v) => { s.logLevel = oneOf(v, LOG_LEVELS) })
]

/** `--config <file>`: read first, below flags and variables. */
export const CONFIG_SETTING = { name: 'config', placeholder: '<file>', help: 'JSON file of settings: {"<flag name>": value}; lists as arrays' }

export function envName (settingName: string): string {
  return ENV_PREFIX + settingName.toUpperCase().replaceAll('-', '_')
}

interface Source {
  /** How the message names it: `--fanout`, `MEDIASOUP_SWARM_FANOUT`, `"fanout" in /etc/node.json`. */
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

/** Applies one source's value; a check that fails becomes a UsageError naming the source. */
function apply (settings: StartSettings, setting: Setting, label: string, value: RawValue): void {
  try {
    setting.apply(settings, value)
  } catch (err) {
    if (err instanceof Invalid) throw new UsageError(`${label} ${err.message}`)
    throw err
  }
}

function fromEnv (env: NodeJS.ProcessEnv): Source {
  const values = new Map<string, RawValue>()
  const known = new Map(SETTINGS.map((s) => [envName(s.name), s]))
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined || key === envName('config')) continue
    const setting = known.get(key)
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
    const reason = err instanceof SyntaxError ? `not valid JSON (${err.message})` : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message
    throw new UsageError(`${label} ${file}: ${reason}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`${label} ${file}: must hold a JSON object of settings`)
  const where = (name: string): string => `"${name}" in ${file}`
  const values = new Map<string, RawValue>()
  const known = new Map(SETTINGS.map((s) => [s.name, s]))
  for (const [name, value] of Object.entries(data)) {
    const setting = known.get(name)
    if (setting === undefined) throw new UsageError(`${where(name)} is not a setting (see mediasoup-swarm start --help)`)
    try {
      values.set(name, configValue(setting, value, path.dirname(path.resolve(file))))
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
    case 'list':
      if (Array.isArray(value)) return value.map(scalar)
      return splitList(scalar(value))
    case 'boolean':
      if (typeof value === 'boolean') return value
      return parseBoolean(scalar(value))
    case 'string': {
      const v = scalar(value)
      return setting.isPath ? path.resolve(dir, v) : v
    }
  }
}

function fromArgs (args: string[]): { source: Source, help: boolean, config: string | undefined } {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    config: { type: 'string' }
  }
  for (const s of SETTINGS) options[s.name] = s.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: true }
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError(describeParseError(err as NodeJS.ErrnoException, 'start'))
  }
  const source: Source = { label: (name) => `--${name}`, values: new Map() }
  for (const s of SETTINGS) {
    const value = values[s.name]
    if (value === undefined) continue
    if (s.kind === 'boolean') {
      source.values.set(s.name, value as boolean)
    } else {
      const given = value as string[]
      // A scalar given twice is a mistake worth naming; a list collects its repetitions.
      if (s.kind === 'string' && given.length > 1) throw new UsageError(`--${s.name} was given ${given.length} times`)
      source.values.set(s.name, s.kind === 'list' ? given : given[0] as string)
    }
  }
  const config = values.config as string[] | string | undefined
  return { source, help: values.help === true, config: Array.isArray(config) ? config.at(-1) : config }
}

/** One line for a node:util parseArgs error. */
export function describeParseError (err: NodeJS.ErrnoException, command: string): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? ''
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted} for ${command} (see mediasoup-swarm ${command} --help)`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}" for ${command} (see mediasoup-swarm ${command} --help)`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted.split(' ')[0] ?? quoted
      if (err.message.includes('argument missing') || err.message.includes('ambiguous')) return `${flag} needs a value (e.g. ${flag}=<value>)`
      if (err.message.includes('does not take an argument')) return `${flag} takes no value`
      return err.message.split('. ')[0] ?? err.message
    }
    default:
      throw err
  }
}

export type StartArgs = { help: true } | { help: false, settings: StartSettings }

/** Resolves `start`'s settings from its arguments, the environment and the config file. */
export function resolveStartSettings (args: string[], env: NodeJS.ProcessEnv): StartArgs {
  const cli = fromArgs(args)
  if (cli.help) return { help: true }
  const sources: Source[] = []
  const configFile = cli.config ?? env[envName('config')]
  if (configFile !== undefined) {
    sources.push(fromConfigFile(configFile, cli.config !== undefined ? '--config' : envName('config')))
  }
  sources.push(fromEnv(env), cli.source)
  const settings = defaults()
  for (const source of sources) {
    for (const setting of SETTINGS) {
      const value = source.values.get(setting.name)
      if (value !== undefined) apply(settings, setting, source.label(setting.name), value)
    }
  }
  checkTogether(settings)
  return { help: false, settings }
}

function checkTogether (s: StartSettings): void {
  if (s.rtcMinPort > s.rtcMaxPort) throw new UsageError(`--rtc-min-port (${s.rtcMinPort}) must not be above --rtc-max-port (${s.rtcMaxPort})`)
  if ((s.mediaIp === '0.0.0.0' || s.mediaIp === '::') && s.mediaAnnouncedIp === undefined) {
    throw new UsageError(`--media-ip ${s.mediaIp} listens on every interface, so --media-announced-ip must say which IP other nodes and browsers reach`)
  }
  if (s.signalling && s.webrtcPort !== 0 && s.webrtcPort + s.workers - 1 > 65535) {
    throw new UsageError(`--webrtc-port ${s.webrtcPort} leaves no room for ${s.workers} workers (one port each, up to 65535)`)
  }
}
