// Bundles the command-line entry points (bin/*.ts) with esbuild into dist/bin/<name>.js, over
// what tsc emitted there. Why: a command's start-up is measured (builds, container starts), and
// Node 20 spends ~45 ms resolving, reading and linking ~100 separate ES modules before tsbuild
// does any work; one self-contained file per command removes that. (Shared chunks for the lazy
// imports were measured slower: each chunk is again a module to resolve and link.)
// The bundles sit in dist/bin/, one level under dist/ like every source folder, so the relative
// URLs modules compute from import.meta.url (../native/<helper>, ../bin/tspull.js,
// ../runner/monitor-main.js) point at the same files as from their tsc-compiled copies.
// Not bundled: tsregistry (a long-running server; pino loads worker files by path) and tsdemo
// (it locates the other commands from its own folder). npm packages that load lazily by path
// (dockerfile-ast, via createRequire) stay external.
import { build } from 'esbuild';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SKIP = new Set(['tsregistry', 'tsdemo']);
const entryPoints = readdirSync('bin')
  .filter((f) => f.endsWith('.ts') && !SKIP.has(f.slice(0, -3)))
  .map((f) => join('bin', f));

await build({
  entryPoints,
  outdir: join('dist', 'bin'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  sourcemap: 'linked',
  external: ['dockerfile-ast'],
  // CommonJS packages inside an ES module bundle call require(); give them Node's.
  banner: {
    js: "import { createRequire as __tsdockRequire } from 'node:module'; const require = __tsdockRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// An import() of a computed path is left as it is and would resolve against dist/bin/, not the
// module's own folder: refuse it, so such imports stay literal (and bundled).
for (const f of entryPoints) {
  const out = join('dist', 'bin', f.slice(4, -3) + '.js');
  const m = /\bimport\((?!["'])[^)]{0,40}/.exec(readFileSync(out, 'utf8'));
  if (m) throw new Error(`${out}: dynamic import of a computed path (${m[0]}...): use a literal`);
}
