// Keeps the README's main command honest: the demo starts three nodes, media crosses them
// (printed counts grow on node 3), its page publishes a browser camera on node 1 and plays
// it from node 3, and Ctrl-C exits cleanly.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS } from '../browser/harness.js'
import { waitFor } from '../harness/index.js'
import type { ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'

const ROOT = path.resolve(import.meta.dirname, '../..')

describe('the demo (npm run demo)', function () {
  this.timeout(60_000)
  let demo: ChildProcessByStdio<null, Readable, Readable> | undefined

  afterEach(() => { if (demo?.exitCode === null) demo.kill('SIGKILL') })

  it('media crosses three nodes, the page shows node 1\'s camera from node 3, and SIGINT exits 0', async () => {
    demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--seconds', '40'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    demo.stdout.on('data', (d: Buffer) => { out += d.toString() })
    demo.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const pageUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no page URL in:\n${out}`)), 20_000)
      demo!.stdout.on('data', () => {
        const match = /open (http\S+)/.exec(out)
        if (match !== null) { clearTimeout(timer); resolve(match[1]!) }
      })
    })

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage()
      await page.goto(pageUrl)
      await page.click('#publish')
      // Page-side expressions as strings: this file is type-checked without the DOM library.
      await page.waitForFunction("!document.getElementById('view').disabled", null, { timeout: 15_000 })
      await page.click('#view')
      await page.waitForFunction("(v => v !== null && v.videoWidth > 0 && v.currentTime > 1)(document.querySelector('video'))", null, { timeout: 15_000 })
    } finally {
      await browser.close()
    }

    const node3Counts = (): number[] => [...out.matchAll(/node 3 received\s+(\d+)/g)].map((m) => Number(m[1]))
    await waitFor(() => node3Counts().length >= 3, { timeoutMs: 15_000, what: 'three per-second lines', progress: () => out })
    const node3 = node3Counts()
    assert.ok(node3.length >= 2 && node3.at(-1)! > node3[0]! && node3[0]! > 0, `node 3 counts: ${node3.join(', ')}`)
    assert.match(out, /node 3 receives it from node 2 \(relay\)/)

    const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)))
    demo.kill('SIGINT')
    assert.equal(await exited, 0)
    assert.match(out, /stopped/)
  })
})
