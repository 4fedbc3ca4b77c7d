// Small helpers shared by the set-up steps (Node built-ins only).
import { spawnSync } from 'node:child_process'

/** A set-up step failed; the message says which and where to look. */
export class SetupError extends Error {
  constructor (message) {
    super(message)
    this.name = 'SetupError'
  }
}

/** Prints a step's title, runs it, and prints how long it took. */
export async function step (title, fn) {
  const started = Date.now()
  process.stdout.write(`[setup]   ${title} `)
  try {
    const result = await fn()
    process.stdout.write(` ok (${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
    return result
  } catch (err) {
    process.stdout.write(' FAILED\n')
    throw err
  }
}

function missingPackages (packages) {
  return packages.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' })
    return r.status !== 0 || !r.stdout.includes('install ok installed')
  })
}

/**
 * Installs missing Debian packages when running as root; otherwise fails with the one
 * apt-get command to run.
 */
export async function ensureDebianPackages (packages) {
  const missing = missingPackages(packages)
  if (missing.length === 0) return
  const command = `apt-get install -y ${missing.join(' ')}`
  if (process.getuid?.() !== 0) {
    throw new SetupError(`missing Debian packages; run as root:\n  ${command}`)
  }
  await step(`installing Debian packages: ${missing.join(' ')}`, () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'pipe', env, encoding: 'utf8' })
    if (update.status !== 0) throw new SetupError(`apt-get update failed:\n${update.stderr}`)
    const r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'pipe', env, encoding: 'utf8' })
    if (r.status !== 0) throw new SetupError(`${command} failed:\n${r.stderr.slice(-2000)}`)
  })
}
