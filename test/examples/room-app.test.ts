// Runs the room app (examples/room-app): two node binaries, two participants in Chromium,
// alice on node 1 and bob on node 2. Each sees the other's camera (a decoding video), found
// through the room's swarm-wide listing; when alice leaves, bob's page drops her
// (producerClosed from node 1 through node 2); SIGINT stops the app and both binaries.
// Deadlines are long (two binaries start from source through tsx: 75 s each was measured
// on this 2-CPU host at load average 84)
// and each is shorter than the test's, so a failure names the step that did not happen.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS } from '../browser/harness.js'
import { waitFor } from '../harness/index.js'
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { Page } from 'playwright-core'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Page-side expressions as strings: this file is type-checked without the DOM library. */
const seesPlaying = (name: string): string =>
  `(f => f !== null && f.querySelector('video').videoWidth > 0 && f.querySelector('video').currentTime > 0.5)(document.querySelector('figure[data-name="${name}"]'))`

describe('the room app (examples/room-app): two node binaries, participants on either node see each other', function () {
  this.timeout(540_000)
  let app: ChildProcessByStdio<null, Readable, Readable> | undefined

  afterEach(() => { if (app?.exitCode === null) app.kill('SIGKILL') })

  it('alice on node 1 and bob on node 2 see each other; bob\'s page drops alice when she leaves; SIGINT exits 0', async () => {
    app = spawn(process.execPath, ['--import', 'tsx', 'examples/room-app/main.ts', '--seconds', '480'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    app.stdout.on('data', (d: Buffer) => { out += d.toString() })
    app.stderr.on('data', (d: Buffer) => { out += d.toString() })
    await waitFor(() => /participant on node 2: (http\S+)/.test(out) || app!.exitCode !== null, { timeoutMs: 320_000, what: 'the participant URLs', progress: () => out })
    const alice = /participant on node 1: (http\S+)/.exec(out)?.[1]
    const bob = /participant on node 2: (http\S+)/.exec(out)?.[1]
    assert.ok(alice !== undefined && bob !== undefined, out)

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    try {
      const open = async (url: string): Promise<Page> => {
        const page = await (await browser.newContext()).newPage()
        await page.goto(url)
        return page
      }
      const alicePage = await open(alice)
      const bobPage = await open(bob)
      const started = Date.now()
      await bobPage.waitForFunction(seesPlaying('alice'), null, { timeout: 60_000 })
      await alicePage.waitForFunction(seesPlaying('bob'), null, { timeout: 60_000 })
      console.log(`      both see each other ${Date.now() - started} ms after the pages opened`)
      // Each sees the other as published on the other node: the room listing crossed the swarm.
      assert.match(await bobPage.textContent('figure[data-name="alice"]') ?? '', /published on node 1/)
      assert.match(await alicePage.textContent('figure[data-name="bob"]') ?? '', /published on node 2/)
      assert.match(await bobPage.textContent('#status') ?? '', /on node 2/)

      const left = Date.now()
      await alicePage.context().close()
      await bobPage.waitForFunction('document.querySelector(\'figure[data-name="alice"]\') === null', null, { timeout: 30_000 })
      console.log(`      bob's page dropped alice ${Date.now() - left} ms after she left`)
    } finally {
      await browser.close()
    }

    const exited = new Promise<number | null>((resolve) => app!.once('exit', (code) => resolve(code)))
    app.kill('SIGINT')
    assert.equal(await exited, 0, out)
    assert.match(out, /stopped/)
  })
})
