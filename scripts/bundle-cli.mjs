// Run by `npm run build` after tsc: bundles the node binary (dist/cli/main.js and what it
// imports) into dist/cli/main.js plus chunks in dist/cli/bundle/, whitespace and comments
// removed: V8 keeps every module's source text for as long as the process runs (lazy
// compilation); the node then holds ≈ 1.5 MB of ASCII source instead of ≈ 3.5 MB of
// module texts with their comments (some stored two bytes a character), and far fewer
// module records: ≈ 8 MB less resident memory at idle (docs/operations.md, Memory). Only ES modules
// and the CommonJS packages they use are bundled; our CommonJS dependencies (mediasoup,
// which finds its worker binary relative to itself, prom-client, debug, ws…) stay imports
// of node_modules, loaded by Node.js itself.
// The library (dist/index.js) is not bundled.
import { Buffer } from 'node:buffer'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'

const ROOT = path.resolve(import.meta.dirname, '..')
const OUT = path.join(ROOT, 'dist/cli')
const ENTRY = path.join(OUT, 'main.js')
const CHUNKS = 'bundle'

/** The `type` of the package.json nearest to `file`. */
function packageType (file) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json')
    if (fs.existsSync(pkg)) return JSON.parse(fs.readFileSync(pkg, 'utf8')).type ?? 'commonjs'
  }
  return 'commonjs'
}

const DEPENDENCIES = new Set(Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies))

/**
 * Our CommonJS dependencies stay imports, loaded by Node.js itself (an installed package
 * always has them); ES modules and the CommonJS packages they use are bundled.
 */
const commonJsExternal = {
  name: 'commonjs-external',
  setup (build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('node:') || args.pluginData === 'inner') return undefined
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]
      if (!DEPENDENCIES.has(name)) return undefined
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' })
      if (resolved.errors.length > 0 || resolved.external) return resolved
      // ws's ES module is a wrapper of its CommonJS code: the package's type decides.
      if (packageType(resolved.path) === 'module') return resolved
      return { path: args.path, external: true }
    })
  }
}

/**
 * libp2p's peer store sorts addresses and protocols with `localeCompare`, whose first call
 * loads ICU's collation data: ≈ 3 MB resident for the life of the process, for strings
 * (multiaddrs, protocol ids) that are ASCII. In the bundle those calls compare code units:
 * the same order for them, and a consistent one for any string.
 */
const codeUnitCompare = {
  name: 'code-unit-compare',
  setup (build) {
    build.onLoad({ filter: /[\\/]@libp2p[\\/](peer-store|peer-record)[\\/].*\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8')
      if (!source.includes('localeCompare')) return undefined
      const contents = source.replace(/([\w.]+(?:\.toString\(\))?)\.localeCompare\(([\w.]+(?:\.toString\(\))?)\)/g, '__codeUnitCompare($1, $2)')
      if (contents.includes('localeCompare')) throw new Error(`${args.path}: a localeCompare call of an unknown shape is left`)
      return { contents: `const __codeUnitCompare = (a, b) => a < b ? -1 : a > b ? 1 : 0;\n${contents}`, loader: 'js' }
    })
  }
}

/**
 * Noise (libp2p's encryption) imports two WebAssembly modules, ChaCha20-Poly1305 and
 * SHA-256, and compiles them when loaded: ≈ 8 MB resident for the life of the process (a
 * bare node with both loaded, against without). Its default crypto uses them only for
 * ChaCha20-Poly1305 payloads under 1 200 bytes (faster there than Node.js's OpenSSL by
 * microseconds); everything else already goes through `node:crypto`. In the bundle that
 * module is Node.js's crypto throughout: the WebAssembly is neither imported nor compiled.
 */
const noiseWithoutWasm = {
  name: 'noise-without-wasm',
  setup (build) {
    build.onLoad({ filter: /[\\/]@chainsafe[\\/]libp2p-noise[\\/]dist[\\/]src[\\/]crypto[\\/]index\.js$/ }, async (args) => {
      let contents = await fs.promises.readFile(args.path, 'utf8')
      const edits = [
        [/^import \{ newInstance, ChaCha20Poly1305 \} from '@chainsafe\/as-chacha20poly1305';\n/m, ''],
        [/^import \{ digest \} from '@chainsafe\/as-sha256';\n/m, ''],
        [/^const ctx = newInstance\(\);\nconst asImpl = new ChaCha20Poly1305\(ctx\);\n/m, ''],
        [/^export const asCrypto = \{\n[\s\S]*?\n\};\n/m, 'export const asCrypto = nodeCrypto;\n']
      ]
      for (const [pattern, replacement] of edits) {
        if (!pattern.test(contents)) throw new Error(`${args.path}: ${pattern} not found (a new version of @chainsafe/libp2p-noise?)`)
        contents = contents.replace(pattern, replacement)
      }
      if (/as-chacha20poly1305|as-sha256|asImpl|(?<!\.)\bdigest\(/.test(contents)) throw new Error(`${args.path}: a use of the WebAssembly modules is left`)
      return { contents, loader: 'js' }
    })
  }
}

/**
 * kad-dht makes the random keys of its routing-table refresh with a table of 65 536
 * numbers, a 480 KB module: V8 would keep its source text and the array (≈ 0.9 MB resident)
 * for the life of the process, for a few look-ups per refresh. In the bundle the table is
 * a 256 KB file (uint32, little-endian) beside the chunk that reads it, 4 bytes a look-up.
 */
const PREFIXES_MARKER = '__kadPrefixesFile'
const PREFIXES_FILE = 'kad-prefixes.bin'
/** The refresh.js bundled, whose sibling module holds the table. */
let refreshModule
const kadPrefixFile = {
  name: 'kad-prefix-file',
  setup (build) {
    build.onLoad({ filter: /[\\/]@libp2p[\\/]kad-dht[\\/]dist[\\/]src[\\/]routing-table[\\/]refresh\.js$/ }, async (args) => {
      refreshModule = args.path
      let contents = await fs.promises.readFile(args.path, 'utf8')
      const edits = [
        [/^import GENERATED_PREFIXES from "\.\/generated-prefix-list\.js";\n/m, ''],
        [/GENERATED_PREFIXES\[targetPrefix\]/, '__kadPrefix(targetPrefix)']
      ]
      for (const [pattern, replacement] of edits) {
        if (!pattern.test(contents)) throw new Error(`${args.path}: ${pattern} not found (a new version of @libp2p/kad-dht?)`)
        contents = contents.replace(pattern, replacement)
      }
      if (contents.includes('GENERATED_PREFIXES')) throw new Error(`${args.path}: a use of the prefix table is left`)
      const reader = `import { closeSync as __closeSync, openSync as __openSync, readSync as __readSync } from 'node:fs';
const ${PREFIXES_MARKER} = new URL('./${PREFIXES_FILE}', import.meta.url);
function __kadPrefix (index) {
  const bytes = Buffer.alloc(4);
  const fd = __openSync(${PREFIXES_MARKER}, 'r');
  try { __readSync(fd, bytes, 0, 4, index * 4); } finally { __closeSync(fd); }
  return bytes.readUInt32LE(0);
}
`
      return { contents: reader + contents, loader: 'js' }
    })
  }
}

/** Writes kad-dht's prefix table beside the one output file that reads it (kadPrefixFile). */
async function writePrefixFile (dir) {
  const files = fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f))
  const readers = files.filter((f) => fs.readFileSync(f, 'utf8').includes(PREFIXES_MARKER))
  if (readers.length !== 1) throw new Error(`${readers.length} bundle files read ${PREFIXES_FILE}, expected 1`)
  const { default: prefixes } = await import(pathToFileURL(path.join(path.dirname(refreshModule), 'generated-prefix-list.js')).href)
  if (prefixes.length !== 65536) throw new Error(`kad-dht's prefix table has ${prefixes.length} entries, expected 65536`)
  const table = Buffer.alloc(prefixes.length * 4)
  prefixes.forEach((prefix, i) => table.writeUInt32LE(prefix, i * 4))
  fs.writeFileSync(path.join(path.dirname(readers[0]), PREFIXES_FILE), table)
}

fs.rmSync(path.join(OUT, CHUNKS), { recursive: true, force: true })
const tmp = path.join(OUT, '.bundle-tmp')
fs.rmSync(tmp, { recursive: true, force: true })
await esbuild.build({
  entryPoints: { main: ENTRY },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: tmp,
  chunkNames: `${CHUNKS}/[name]-[hash]`,
  entryNames: '[name]',
  // Names stay: stack traces and error names read as in the source; a source map for them.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  sourcesContent: false,
  plugins: [commonJsExternal, codeUnitCompare, noiseWithoutWasm, kadPrefixFile],
  // For the CommonJS code in the bundle: its require() of Node.js modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning'
})
// The chunks first, then the entry over tsc's main.js.
fs.renameSync(path.join(tmp, CHUNKS), path.join(OUT, CHUNKS))
fs.renameSync(path.join(tmp, 'main.js'), ENTRY)
fs.renameSync(path.join(tmp, 'main.js.map'), `${ENTRY}.map`)
fs.rmSync(tmp, { recursive: true })
await writePrefixFile(OUT)
fs.chmodSync(ENTRY, 0o755)
