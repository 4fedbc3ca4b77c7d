// Settings of `mediasoup-swarm start`: one table gives each setting's flag, environment
// variable (MEDIASOUP_SWARM_<NAME>), config file key (the flag's name), type, default and
// help. Precedence: flag > environment > config file > default. docs/cli.md mirrors it.
import fs from 'node:fs'
import net from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeServiceConfig } from './node-service.js'

/** A wrong flag, value or file: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

type Kind = 'string' | 'list' | 'int' | 'number' | 'boolean'

export interface Setting {
  name: string
  kind: Kind
  default?: string
  help: string
}

export const SETTINGS: Setting[] = [
  { name: 'listen', kind: 'list', default: '/ip4/0.0.0.0/tcp/4001', help: 'libp2p listen multiaddrs (TCP)' },
  { name: 'announce', kind: 'list', help: 'extra multiaddrs announced to peers (public address behind NAT)' },
  { name: 'bootstrap', kind: 'list', help: 'multiaddrs with /p2p/<peerId> of nodes to join through' },
  { name: 'identity', kind: 'string', help: 'identity key file (created when missing; keeps the peer id across restarts); default: a new identity each start' },
  { name: 'swarm-key', kind: 'string', help: 'pre-shared swarm key file (private swarm; make one with `mediasoup-swarm psk`)' },
  { name: 'workers', kind: 'int', default: '1', help: 'mediasoup workers (one CPU core each)' },
  { name: 'rtc-min-port', kind: 'int', default: '10000', help: 'lowest UDP/TCP port of pipes and WebRTC transports' },
  { name: 'rtc-max-port', kind: 'int', default: '59999', help: 'highest UDP/TCP port of pipes and WebRTC transports' },
  { name: 'media-ip', kind: 'string', default: '127.0.0.1', help: 'IP that pipes and the WebRTC server listen on' },
  { name: 'media-announced-ip', kind: 'string', help: 'IP announced to other nodes and browsers for media (NAT, containers); default: --media-ip' },
  { name: 'capacity', kind: 'number', help: 'capacity in scaling points; default: workers × 2000' },
  { name: 'fanout', kind: 'int', default: '4', help: 'most downstream pipes served per producer; more requesters are redirected to relays' },
  { name: 'http', kind: 'string', default: '127.0.0.1:7070', help: 'HTTP host:port of /metrics, /status and the status page (port 0: a free one)' },
  { name: 'signalling', kind: 'boolean', default: 'false', help: 'serve browser signalling (mediasoup-client) at ws://<http>/ws' },
  { name: 'webrtc-port', kind: 'int', default: '0', help: 'UDP and TCP port of the WebRTC server for browsers (0: a free one)' },
  { name: 'token-secret', kind: 'string', help: 'HMAC secret: browsers must present a token signed with it (docs/client-signalling.md)' },
  { name: 'log-level', kind: 'string', default: 'warn', help: 'mediasoup worker log level: debug, warn, error or none' }
]

export const envName = (name: string): string => `MEDIASOUP_SWARM_${name.toUpperCase().replaceAll('-', '_')}`

type Raw = Record<string, string | string[] | boolean | undefined>

/** Reads `--config file.json`: an object whose keys are setting names. */
function readConfigFile (file: string): Raw {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UsageError(`config file ${file} is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`config file ${file} must hold a JSON object`)
  const raw: Raw = {}
  for (const [key, v] of Object.entries(value)) {
    const setting = SETTINGS.find((s) => s.name === key)
    if (setting === undefined) throw new UsageError(`config file ${file}: unknown setting "${key}"`)
    if (Array.isArray(v)) raw[key] = v.map(String)
    else if (typeof v === 'boolean') raw[key] = v
    else if (typeof v === 'string' || typeof v === 'number') raw[key] = String(v)
    else throw new UsageError(`config file ${file}: "${key}" must be a string, number, boolean or list`)
  }
  return raw
}

function toList (value: string | string[] | boolean): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')
  return String(value).split(',').map((v) => v.trim()).filter((v) => v !== '')
}

/** Merges flags, environment, config file and defaults into typed values. */
export function resolveSettings (flags: Raw, env: NodeJS.ProcessEnv): Map<string, string | string[] | number | boolean | undefined> {
  const file = typeof flags.config === 'string' ? readConfigFile(flags.config) : {}
  const values = new Map<string, string | string[] | number | boolean | undefined>()
  for (const s of SETTINGS) {
    const raw = flags[s.name] ?? env[envName(s.name)] ?? file[s.name] ?? s.default
    const where = flags[s.name] !== undefined ? `--${s.name}` : env[envName(s.name)] !== undefined ? envName(s.name) : `"${s.name}"`
    if (raw === undefined) { values.set(s.name, undefined); continue }
    switch (s.kind) {
      case 'list': values.set(s.name, toList(raw)); break
      case 'string': values.set(s.name, String(raw)); break
      case 'boolean': {
        const v = typeof raw === 'boolean' ? raw : ['true', '1', 'yes'].includes(String(raw)) ? true : ['false', '0', 'no'].includes(String(raw)) ? false : undefined
        if (v === undefined) throw new UsageError(`${where} must be true or false (got "${String(raw)}")`)
        values.set(s.name, v)
        break
      }
      case 'int':
      case 'number': {
        const n = Number(raw)
        const ok = String(raw).trim() !== '' && Number.isFinite(n) && (s.kind === 'number' ? n > 0 : Number.isInteger(n) && n >= 0)
        if (!ok) throw new UsageError(`${where} must be a ${s.kind === 'int' ? 'non-negative integer' : 'positive number'} (got "${String(raw)}")`)
        values.set(s.name, n)
      }
    }
  }
  return values
}

function checkMultiaddrs (list: string[], name: string, needPeerId: boolean): string[] {
  for (const a of list) {
    try {
      multiaddr(a)
    } catch {
      throw new UsageError(`--${name}: not a multiaddr: "${a}"`)
    }
    if (needPeerId && !a.includes('/p2p/')) throw new UsageError(`--${name}: "${a}" has no /p2p/<peerId> part`)
  }
  return list
}

function checkIp (value: string | undefined, name: string): string | undefined {
  if (value !== undefined && net.isIP(value) === 0) throw new UsageError(`--${name} must be an IP address (got "${value}")`)
  return value
}

function checkFile (file: string | undefined, name: string, mustExist: boolean): string | undefined {
  if (file === undefined) return undefined
  try {
    fs.accessSync(file, mustExist ? fs.constants.R_OK : fs.constants.F_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (mustExist || code !== 'ENOENT') throw new UsageError(`--${name}: cannot read ${file} (${code ?? 'error'})`)
  }
  return file
}

/** The node service configuration from `start`'s flags and the environment. */
export function startConfig (flags: Raw, env: NodeJS.ProcessEnv): NodeServiceConfig {
  const v = resolveSettings(flags, env)
  const get = <T>(name: string): T => v.get(name) as T
  const positiveInt = (name: string): number => {
    const n = get<number>(name)
    if (n < 1) throw new UsageError(`--${name} must be a positive integer (got "${n}")`)
    return n
  }
  const port = (name: string, allowZero: boolean): number => {
    const n = get<number>(name)
    if (n > 65535 || (!allowZero && n < 1)) throw new UsageError(`--${name} must be a port number${allowZero ? ' or 0' : ''} (got "${n}")`)
    return n
  }
  const rtcMinPort = port('rtc-min-port', false)
  const rtcMaxPort = port('rtc-max-port', false)
  if (rtcMinPort > rtcMaxPort) throw new UsageError(`--rtc-min-port (${rtcMinPort}) is above --rtc-max-port (${rtcMaxPort})`)
  const logLevel = get<string>('log-level')
  if (!['debug', 'warn', 'error', 'none'].includes(logLevel)) throw new UsageError(`--log-level must be debug, warn, error or none (got "${logLevel}")`)
  const http = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d+)$/.exec(get<string>('http'))
  if (http === null || net.isIP(http[1]!.replace(/^\[|\]$/g, '')) === 0 || Number(http[2]) > 65535) {
    throw new UsageError(`--http must be <ip>:<port> (got "${get<string>('http')}")`)
  }
  const mediaIp = checkIp(get<string>('media-ip'), 'media-ip')!
  const mediaAnnouncedIp = checkIp(get<string | undefined>('media-announced-ip'), 'media-announced-ip')
  const tokenSecret = get<string | undefined>('token-secret')
  if (tokenSecret !== undefined && tokenSecret.length < 16) throw new UsageError('--token-secret must be at least 16 characters')
  return {
    node: {
      listen: checkMultiaddrs(get<string[]>('listen'), 'listen', false),
      announce: checkMultiaddrs(get<string[] | undefined>('announce') ?? [], 'announce', false),
      bootstrap: checkMultiaddrs(get<string[] | undefined>('bootstrap') ?? [], 'bootstrap', true),
      identityFile: checkFile(get<string | undefined>('identity'), 'identity', false),
      swarmKeyFile: checkFile(get<string | undefined>('swarm-key'), 'swarm-key', true),
      numWorkers: positiveInt('workers'),
      workerSettings: { rtcMinPort, rtcMaxPort, logLevel: logLevel as 'warn' },
      pipeListenIp: mediaIp,
      pipeAnnouncedIp: mediaAnnouncedIp,
      capacity: get<number | undefined>('capacity'),
      fanout: positiveInt('fanout')
    },
    http: { host: http[1]!.replace(/^\[|\]$/g, ''), port: Number(http[2]) },
    signalling: get<boolean>('signalling')
      ? { listenIp: mediaIp, announcedIp: mediaAnnouncedIp, port: port('webrtc-port', true), tokenSecret }
      : undefined
  }
}
