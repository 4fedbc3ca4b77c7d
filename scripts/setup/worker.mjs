// Ensures a working mediasoup worker binary where mediasoup looks for it, without internet:
// MEDIASOUP_WORKER_BIN if set, else an installed worker that runs, else a cached build,
// else a build from node_modules/mediasoup/worker against Debian's libraries.
// Uses only Node built-ins: it runs before anything else of the project works.
import { spawnSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensureDebianPackages, SetupError, step } from './util.mjs'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MEDIASOUP_DIR = path.join(ROOT, 'node_modules/mediasoup')
const DEFAULT_WORKER = path.join(MEDIASOUP_DIR, 'worker/out/Release/mediasoup-worker')
const PATCH_FILE = path.join(ROOT, 'patches/mediasoup-3.13.16-dtls-bio-ctrl.patch')
const SHIMS_DIR = path.join(import.meta.dirname, 'meson-shims')
const CACHE_ROOT = process.env.MEDIASOUP_SWARM_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'mediasoup-swarm')

export const WORKER_DEBIAN_PACKAGES = [
  'pkg-config', 'ninja-build', 'libuv1-dev', 'libssl-dev', 'libsrtp2-dev', 'libabsl-dev',
  'libflatbuffers-dev', 'flatbuffers-compiler', 'libusrsctp-dev'
]
const MESON_REQUIREMENT = 'meson>=1.1,<2'

/** Starts a real mediasoup Worker with `bin` in a child process; true when it comes up. */
function workerRuns (bin) {
  if (!fs.existsSync(bin)) return false
  const probe = "import('mediasoup').then(async m => { const w = await m.createWorker({ logLevel: 'none' }); w.close() })"
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: ROOT, env: { ...process.env, MEDIASOUP_WORKER_BIN: bin }, stdio: 'pipe', timeout: 20_000
  })
  return r.status === 0
}

function cacheKey () {
  const version = JSON.parse(fs.readFileSync(path.join(MEDIASOUP_DIR, 'package.json'), 'utf8')).version
  const osRelease = fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : ''
  const osId = (osRelease.match(/^ID=(.*)$/m)?.[1] ?? os.platform()).replaceAll('"', '')
  const osVersion = (osRelease.match(/^VERSION_ID=(.*)$/m)?.[1] ?? os.release()).replaceAll('"', '')
  // The patch and shims change the binary too: a new patch must not reuse an old build.
  const recipe = createHash('sha256')
  recipe.update(fs.readFileSync(PATCH_FILE))
  for (const f of fs.readdirSync(SHIMS_DIR, { recursive: true }).sort()) {
    const p = path.join(SHIMS_DIR, f)
    if (fs.statSync(p).isFile()) recipe.update(f).update(fs.readFileSync(p))
  }
  return `${version}-${osId}${osVersion}-${os.platform()}-${os.arch()}-${recipe.digest('hex').slice(0, 10)}`
}

function install (bin) {
  fs.mkdirSync(path.dirname(DEFAULT_WORKER), { recursive: true })
  fs.copyFileSync(bin, DEFAULT_WORKER)
  fs.chmodSync(DEFAULT_WORKER, 0o755)
}

/** Runs a build command, its output going to the log; shows a dot every few seconds. */
function run (title, cmd, args, { cwd, env, log }) {
  return step(title, () => new Promise((resolve, reject) => {
    fs.appendFileSync(log, `\n$ ${cmd} ${args.join(' ')}\n`)
    const out = fs.openSync(log, 'a')
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, out] })
    const ticker = setInterval(() => process.stdout.write('.'), 5000)
    child.on('error', (err) => { clearInterval(ticker); reject(new SetupError(`${title} failed: ${err.message}; log: ${log}`)) })
    child.on('exit', (code) => {
      clearInterval(ticker)
      fs.closeSync(out)
      if (code === 0) resolve()
      else reject(new SetupError(`${title} failed (exit ${code}); see the log: ${log}`))
    })
  }))
}

async function build (cacheDir) {
  await ensureDebianPackages(WORKER_DEBIAN_PACKAGES)
  const work = path.join(cacheDir, 'build')
  fs.rmSync(work, { recursive: true, force: true })
  fs.mkdirSync(work, { recursive: true })
  const log = path.join(cacheDir, 'build.log')
  fs.writeFileSync(log, `mediasoup worker build, ${new Date().toISOString()}\n`)
  console.log(`[setup] building the mediasoup worker from source (about 2-4 minutes); log: ${log}`)

  const src = path.join(work, 'mediasoup')
  fs.mkdirSync(src)
  fs.cpSync(path.join(MEDIASOUP_DIR, 'worker'), path.join(src, 'worker'), {
    recursive: true, filter: (p) => !p.includes(`${path.sep}out${path.sep}`)
  })
  await run('applying the DTLS patch', 'git', ['apply', '-p1', PATCH_FILE], { cwd: src, log })

  const subprojects = path.join(src, 'worker/subprojects')
  for (const f of fs.readdirSync(subprojects)) fs.rmSync(path.join(subprojects, f), { recursive: true, force: true })
  for (const name of fs.readdirSync(SHIMS_DIR)) {
    const shim = path.join(SHIMS_DIR, name)
    if (!fs.statSync(shim).isDirectory()) continue
    fs.cpSync(shim, path.join(subprojects, name), { recursive: true })
    fs.copyFileSync(path.join(SHIMS_DIR, 'empty.c'), path.join(subprojects, name, 'empty.c'))
  }

  const mesonDir = path.join(cacheDir, 'meson')
  const env = { PYTHONPATH: mesonDir }
  if (!fs.existsSync(path.join(mesonDir, 'bin/meson'))) {
    await run('installing meson (pip)', 'python3', ['-m', 'pip', 'install', '--quiet', '--target', mesonDir, MESON_REQUIREMENT], { cwd: work, env, log })
  }
  const out = path.join(work, 'out')
  await run('configuring (meson)', path.join(mesonDir, 'bin/meson'),
    ['setup', '--buildtype=release', '-Dms_disable_liburing=true', out, path.join(src, 'worker')], { cwd: work, env, log })
  // The FlatBuffers headers first: a parallel build may otherwise compile libwebrtc before FBS/message.h exists.
  await run('generating FlatBuffers headers', 'ninja', ['-C', out, 'fbs/FBS'], { cwd: work, env, log })
  await run('compiling the worker (ninja)', 'ninja', ['-C', out, 'mediasoup-worker'], { cwd: work, env, log })
  return path.join(out, 'mediasoup-worker')
}

export async function ensureWorker () {
  if (process.env.MEDIASOUP_WORKER_BIN) {
    if (!workerRuns(process.env.MEDIASOUP_WORKER_BIN)) {
      throw new SetupError(`MEDIASOUP_WORKER_BIN=${process.env.MEDIASOUP_WORKER_BIN} does not start a working mediasoup worker`)
    }
    console.log(`[setup] mediasoup worker: ${process.env.MEDIASOUP_WORKER_BIN} (MEDIASOUP_WORKER_BIN)`)
    return
  }
  const cacheDir = path.join(CACHE_ROOT, `worker-${cacheKey()}`)
  const cached = path.join(cacheDir, 'mediasoup-worker')
  const stamp = path.join(path.dirname(DEFAULT_WORKER), '.mediasoup-swarm-build')
  // A worker already in place counts only if it is ours (patched) or the user put it there.
  if (fs.existsSync(DEFAULT_WORKER) && (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') === cacheKey()) && workerRuns(DEFAULT_WORKER)) {
    console.log('[setup] mediasoup worker: installed and working')
    return
  }
  if (!(fs.existsSync(cached) && workerRuns(cached))) {
    const built = await build(cacheDir)
    fs.copyFileSync(built, cached)
    fs.rmSync(path.join(cacheDir, 'build'), { recursive: true, force: true })
    if (!workerRuns(cached)) throw new SetupError(`the built worker ${cached} does not start; see ${path.join(cacheDir, 'build.log')}`)
  }
  install(cached)
  fs.writeFileSync(stamp, cacheKey())
  console.log(`[setup] mediasoup worker: installed from ${cached}`)
}
