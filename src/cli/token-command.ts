// `mediasoup-swarm token`: mints one client token (docs/cli.md#token) with the secret a node
// runs with (--token-secret), for tests, scripts and operators; applications mint theirs
// with createClientToken().
import fs from 'node:fs'
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { describeParseError } from './config.js'
import { EXIT_OK, UsageError } from './errors.js'

export const TOKEN_USAGE = `usage: mediasoup-swarm token --secret-file <file> --ttl <duration> [--publish] [--consume] [--sub <id>] [--room <room>]

Prints a client token for the signalling of nodes started with --token-secret: a JWT
(HS256) with the claims sub, iat, exp and grants { publish, consume, room }.

  --secret-file <file>   file holding the token secret (its first line; ≥ 32 characters)
  --ttl <duration>       lifetime: seconds, or a number with s, m, h or d (e.g. 10m)
  --publish              the client may publish (send transports, producers)
  --consume              the client may consume (receive transports, consumers)
  --room <room>          the client publishes into this room and consumes only from it
                         (default: any room)
  --sub <id>             the client's identity (default: a random UUID)
  -h, --help             this help

At least one of --publish and --consume.
`

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** `10m` → 600; a bare number is seconds. */
export function parseDuration (value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim())
  const seconds = match === null ? NaN : Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] as number)
  if (!(seconds >= 1) || !Number.isFinite(seconds)) throw new UsageError(`--ttl must be a duration of at least 1 s like 90, 10m or 1h (got "${value}")`)
  return Math.ceil(seconds)
}

function readSecret (file: string): string {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(`--secret-file ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`)
  }
  const secret = text.split(/\r?\n/)[0] ?? ''
  if (secret.length < 32) throw new UsageError(`--secret-file ${file}: the secret must be at least 32 characters on its first line`)
  return secret
}

export async function tokenCommand (args: string[]): Promise<number> {
  let values: { help?: boolean, 'secret-file'?: string, ttl?: string, publish?: boolean, consume?: boolean, room?: string, sub?: string }
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        'secret-file': { type: 'string' },
        ttl: { type: 'string' },
        publish: { type: 'boolean' },
        consume: { type: 'boolean' },
        room: { type: 'string' },
        sub: { type: 'string' }
      }
    }).values
  } catch (err) {
    throw new UsageError(describeParseError(err as NodeJS.ErrnoException, 'token'))
  }
  if (values.help === true) {
    process.stdout.write(TOKEN_USAGE)
    return EXIT_OK
  }
  if (values['secret-file'] === undefined) throw new UsageError('token needs --secret-file <file> (see mediasoup-swarm token --help)')
  if (values.ttl === undefined) throw new UsageError('token needs --ttl <duration>, e.g. --ttl 10m (see mediasoup-swarm token --help)')
  if (values.publish !== true && values.consume !== true) throw new UsageError('token needs --publish, --consume or both: a token allowing nothing is of no use')
  if (values.room !== undefined && (values.room === '' || values.room.length > 128)) throw new UsageError('--room must be 1-128 characters')
  if (values.sub !== undefined && (values.sub === '' || values.sub.length > 128)) throw new UsageError('--sub must be 1-128 characters')
  const expiresInSeconds = parseDuration(values.ttl)
  const secret = readSecret(values['secret-file'])
  const { createClientToken } = await import('../signalling/token.js')
  const token = await createClientToken({
    secret,
    sub: values.sub ?? randomUUID(),
    expiresInSeconds,
    grants: {
      ...(values.publish === true ? { publish: true } : {}),
      ...(values.consume === true ? { consume: true } : {}),
      ...(values.room === undefined ? {} : { room: values.room })
    }
  })
  process.stdout.write(`${token}\n`)
  return EXIT_OK
}
