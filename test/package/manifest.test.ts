// What the published package promises, checked from the sources in a few seconds: the code
// it runs needs only production dependencies, and the docs import only what it exports.
// package-install.test.ts checks the same by installing the packed tarball.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import ts from 'typescript'

const ROOT = path.resolve(import.meta.dirname, '../..')
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
  exports: Record<string, { types: string, import: string }>
}
/** The browser helper (`mediasoup-swarm/client`): it may load peer dependencies, and nothing else may load it. */
const CLIENT_DIR = path.join(ROOT, 'src/client')

/** '@scope/name/sub/path' -> '@scope/name', 'name/sub' -> 'name'. */
function packageOf (specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** Module specifiers a file loads when it runs: type-only imports and exports are erased. */
function runtimeSpecifiers (file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !isTypeOnlyImport(node)) found.push(node.moduleSpecifier.text)
    if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) found.push(node.moduleSpecifier.text)
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      assert.ok(arg !== undefined && ts.isStringLiteral(arg), `${file}: import() of a computed specifier cannot be checked`)
      found.push(arg.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

function isTypeOnlyImport (node: ts.ImportDeclaration): boolean {
  const clause = node.importClause
  if (clause === undefined) return false // import 'x': a side effect
  if (clause.isTypeOnly) return true
  const bindings = clause.namedBindings
  return clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
}

function filesUnder (dir: string, extension: RegExp): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => extension.test(f))
    .map((f) => path.join(dir, f))
}

describe('the published package (package.json, src/index.ts, docs)', function () {
  this.timeout(20_000)

  it('every package src/ loads at run time is a production dependency or a Node builtin (src/client: a peer dependency)', () => {
    const dependencies = new Set(Object.keys(manifest.dependencies))
    const peers = new Set(Object.keys(manifest.peerDependencies))
    const undeclared: string[] = []
    let bare = 0
    for (const file of filesUnder(path.join(ROOT, 'src'), /(?<!\.d)\.ts$/)) {
      const inClient = file.startsWith(CLIENT_DIR + path.sep)
      for (const specifier of runtimeSpecifiers(file)) {
        if (specifier.startsWith('.')) continue
        bare++
        const ok = inClient
          ? peers.has(packageOf(specifier))
          : specifier.startsWith('node:') || builtinModules.includes(specifier) || dependencies.has(packageOf(specifier))
        if (!ok) undeclared.push(`${path.relative(ROOT, file)}: ${specifier}`)
      }
    }
    assert.ok(bare > 0, 'no bare import found: the scan is broken')
    assert.deepEqual(undeclared, [], 'imported but not in "dependencies" (src/client: "peerDependencies")')
  })

  it('the browser helper is the subpath export mediasoup-swarm/client, which the Node entry never loads, nor it the Node code', () => {
    assert.deepEqual(manifest.exports['./client'], { types: './dist/client/index.d.ts', import: './dist/client/index.js' })
    const crossing: string[] = []
    for (const file of filesUnder(path.join(ROOT, 'src'), /(?<!\.d)\.ts$/)) {
      const inClient = file.startsWith(CLIENT_DIR + path.sep)
      for (const specifier of runtimeSpecifiers(file)) {
        if (!specifier.startsWith('.')) continue
        const target = path.resolve(path.dirname(file), specifier)
        if (inClient !== target.startsWith(CLIENT_DIR + path.sep)) crossing.push(`${path.relative(ROOT, file)}: ${specifier}`)
      }
    }
    assert.deepEqual(crossing, [], 'imports between src/client and the rest of src/')
  })

  it('every name the docs import from \'mediasoup-swarm\' is exported by src/index.ts', () => {
    const program = ts.createProgram([path.join(ROOT, 'src/index.ts')], {
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: ['node'], noEmit: true
    })
    const checker = program.getTypeChecker()
    const entry = checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, 'src/index.ts'))!)!
    const exported = new Set(checker.getExportsOfModule(entry).map((s) => s.name))

    const docs = [path.join(ROOT, 'README.md'), ...filesUnder(path.join(ROOT, 'docs'), /\.md$/), ...filesUnder(path.join(ROOT, 'examples'), /\.md$/)]
    const missing: string[] = []
    let imported = 0
    for (const doc of docs) {
      for (const [, names] of fs.readFileSync(doc, 'utf8').matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'mediasoup-swarm'/g)) {
        for (const name of names!.split(',').map((n) => n.replace(/^\s*type\s+/, '').split(/\s+as\s+/)[0]!.trim()).filter(Boolean)) {
          imported++
          if (!exported.has(name)) missing.push(`${path.relative(ROOT, doc)}: ${name}`)
        }
      }
    }
    assert.ok(imported > 0, 'no import from \'mediasoup-swarm\' found in the docs: the scan is broken')
    assert.deepEqual(missing, [], 'the docs import names the package does not export')
  })
})
