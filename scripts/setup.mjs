#!/usr/bin/env node
// One-stop set-up, run by `npm test`, `npm run demo` and `npm run bench` before anything
// else: npm packages, the mediasoup worker (built offline when needed), with --browser
// Debian's Chromium for the browser tests and with --bench Debian's redis-server (the
// central directory swarm-scale measures side by side). Idempotent and fast when all is there.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ensureDebianPackages, SetupError, step } from './setup/util.mjs'

const ROOT = path.resolve(import.meta.dirname, '..')
const started = Date.now()

async function ensureNpmPackages () {
  const lock = fs.readFileSync(path.join(ROOT, 'package-lock.json'))
  const hash = createHash('sha256').update(lock).digest('hex')
  const stamp = path.join(ROOT, 'node_modules/.mediasoup-swarm-lock')
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return
  await step('installing npm packages (npm ci)', () => {
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    if (r.status !== 0) throw new SetupError(`npm ci failed:\n${r.stderr.slice(-3000)}`)
  })
  fs.writeFileSync(stamp, hash)
}

async function main () {
  const withBrowser = process.argv.includes('--browser')
  const forBench = process.argv.includes('--bench')
  await ensureNpmPackages()
  const { ensureWorker } = await import('./setup/worker.mjs')
  await ensureWorker()
  if (withBrowser) {
    await ensureDebianPackages(['chromium'])
    console.log('[setup] chromium: /usr/bin/chromium')
  }
  if (forBench) {
    // Only the binary is used: the benchmark starts its own server, in its network namespace.
    await ensureDebianPackages(['redis-server'])
    console.log('[setup] redis-server: /usr/bin/redis-server')
  }
  console.log(`[setup] ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

main().catch((err) => {
  console.error(`[setup] ${err instanceof SetupError ? err.message : err.stack}`)
  process.exit(1)
})
