// Bundles the command-line entry points (bin/*.ts) with esbuild into dist/bin/<name>.js, over
// what tsc emitted there. Why: a command's start-up is measured (builds, container starts), and
// Node 20 spends ~45 ms resolving, reading and linking ~100 separate ES modules before tsbuild
// does any work; one self-contained file per command removes that. The bundles are CommonJS
// (dist/bin/package.json says so): esbuild then turns the imports of lazily loaded modules,
// Node built-ins included, into require() calls run on first use, where an ES module bundle
// hoists every built-in import to the top and loads crypto, zlib, net... at every start
// (measured: tsrun 16 ms less CPU per start). Shared chunks were measured slower than one file.
// The bundles sit in dist/bin/, one level under dist/ like every source folder, so the relative
// URLs modules compute from import.meta.url (../native/<helper>, ../runner/monitor-main.js)
// point at the same files as from their tsc-compiled copies.
// Not bundled: tsregistry (a long-running server whose packages are ES modules: jose, level)
// and tsdemo; tsc's ES module output for them moves to <name>.mjs behind a two-line <name>.js.
// npm packages that load lazily by path (dockerfile-ast, via createRequire) stay external.
// Start-up: each bundle is a file that sh and Node both read (LAUNCHER below). The kernel runs it
// with /bin/sh, which moves NODE_EXTRA_CA_CERTS to TSDOCK_EXTRA_CA_CERTS and execs node on the
// same file (Node would otherwise read and parse that CA bundle before any code runs: ~40 ms
// of CPU per start, in commands that mostly never open a TLS connection); shared/tls-trust.ts
// gives the HTTP client those certificates back. POSIX sh only (GNU `env -S -u` was used before).
// Every command file is made executable here, so links to dist/bin work (make install, npm -g).
// Run after tsc (npm run build does): tsc alone leaves ES modules under a CommonJS package.json.
// Also builds the registry's web console (registry/ui/client/, preact + JSX) into
// dist/registry/ui/static/: app.js (one minified ES module for browsers), app.css, index.html.
import { build } from 'esbuild';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const BIN = join('dist', 'bin');
const UNBUNDLED = new Set(['tsregistry', 'tsdemo']);
const entryPoints = readdirSync('bin')
  .filter((f) => f.endsWith('.ts') && !UNBUNDLED.has(f.slice(0, -3)))
  .map((f) => join('bin', f));

// Line 1 for sh; line 2 is a string statement and a comment to JavaScript, commands to sh.
const SH = '#!/bin/sh';
const LAUNCHER =
  '":" //; if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then TSDOCK_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS;' +
  ' export TSDOCK_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"';

await build({
  entryPoints,
  outdir: BIN,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  sourcemap: 'linked',
  external: ['dockerfile-ast'],
  // import.meta.url, which CommonJS lacks: the bundle's own file URL
  define: { 'import.meta.url': '__tsdockModuleUrl' },
  banner: {
    js: `${LAUNCHER}\nconst __tsdockModuleUrl = require('node:url').pathToFileURL(__filename).href;`,
  },
  logLevel: 'warning',
});

// An import() of a computed path is left as it is and would resolve against dist/bin/, not the
// module's own folder: refuse it, so such imports stay literal (and bundled).
for (const f of entryPoints) {
  const out = join(BIN, f.slice(4, -3) + '.js');
  const text = readFileSync(out, 'utf8');
  const m = /\bimport\((?!["'])[^)]{0,40}/.exec(text);
  if (m) throw new Error(`${out}: dynamic import of a computed path (${m[0]}...): use a literal`);
  // esbuild kept the source's `#!/usr/bin/env node`: sh runs the launcher line instead
  const body = text.startsWith('#!') ? text.slice(text.indexOf('\n') + 1) : text;
  if (!body.startsWith(LAUNCHER)) throw new Error(`${out}: the launcher line is not line 2`);
  writeFileSync(out, `${SH}\n${body}`);
  chmodSync(out, 0o755);
}

// The unbundled commands stay ES modules: tsc's output becomes <name>.mjs, started by <name>.js.
for (const name of UNBUNDLED) {
  const js = join(BIN, `${name}.js`);
  const text = readFileSync(js, 'utf8');
  if (!text.includes('__tsdockLauncher')) {
    renameSync(js, join(BIN, `${name}.mjs`));
    if (existsSync(`${js}.map`)) renameSync(`${js}.map`, join(BIN, `${name}.mjs.map`));
  }
  const shebang = text.startsWith('#!') ? text.slice(0, text.indexOf('\n') + 1) : '';
  writeFileSync(
    js,
    `${shebang}// __tsdockLauncher: starts ./${name}.mjs (an ES module; see scripts/bundle.mjs)\n` +
      `import(require('node:url').pathToFileURL(require('node:path').join(__dirname, '${name}.mjs')).href);\n`,
  );
  chmodSync(js, 0o755);
}
writeFileSync(join(BIN, 'package.json'), '{ "type": "commonjs" }\n');
// tsc's ES modules in dist/bin's folders (demo: tsdemo's steps, imported by the e2e test;
// commands: the command-line specs tsregistry and tsdemo import; common)
for (const dir of readdirSync(BIN, { withFileTypes: true })) {
  if (dir.isDirectory())
    writeFileSync(join(BIN, dir.name, 'package.json'), '{ "type": "module" }\n');
}

// The web console: served by tsregistry from dist/registry/ui/static/ (registry/ui/routes.ts).
const UI_SRC = join('registry', 'ui', 'client');
const UI_OUT = join('dist', 'registry', 'ui', 'static');
mkdirSync(UI_OUT, { recursive: true });
await build({
  entryPoints: [join(UI_SRC, 'main.tsx')],
  outfile: join(UI_OUT, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(UI_SRC, 'app.css')],
  outfile: join(UI_OUT, 'app.css'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
copyFileSync(join(UI_SRC, 'index.html'), join(UI_OUT, 'index.html'));
