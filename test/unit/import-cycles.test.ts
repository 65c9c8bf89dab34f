// No import cycles between the modules of tsdock: walks the import graph of the TypeScript
// sources (static imports, `import type`, re-exports and literal dynamic import() calls alike:
// a type-only cycle is still two modules that cannot be understood one without the other) and
// fails naming each cycle; and checks that the builder reaches the runner only through its
// executor (runner/executor.ts, runner/namespace-executor.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: this file runs as dist/test/unit/import-cycles.test.js. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Library folders; bin/ and test/ only import them, nothing imports bin/ or test/. */
const ROOTS = ['builder', 'registry', 'runner', 'shared'];
/**
 * Cycles known and left for their owners (shown here so that none is silent; the test fails when
 * one of them is gone, so the list cannot go stale). s3-writer imports the S3Driver type back.
 */
const KNOWN = new Set([
  'registry/storage/drivers/s3/s3-driver -> registry/storage/drivers/s3/s3-writer -> registry/storage/drivers/s3/s3-driver',
]);
const IMPORT_RE =
  /(?:\bimport\s*(?:[\w*{}\s,$]+\sfrom\s*)?|\bexport\s*[\w*{}\s,$]*\sfrom\s*|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of one module (`./x.js` names `./x.ts`), as absolute paths. */
function importsOf(file: string, text: string): string[] {
  return [...text.matchAll(IMPORT_RE)].map((m) =>
    resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts')),
  );
}

/** Every elementary cycle found by a depth-first walk (each reported once, from its smallest node). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') {
        const cycle = path.slice(path.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const canonical = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(canonical.join('>'), canonical);
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}

test('the cycle finder sees direct, indirect and dynamic-import cycles', () => {
  const text = [
    `import { a } from './b.js';`,
    `import type { T } from '../t.js';`,
    `export * from "./c.js";`,
    `const m = await import('./d.js');`,
    `import {\n  x,\n  type Y,\n} from './e.js';`,
  ].join('\n');
  assert.deepEqual(importsOf('/x/a.ts', text), [
    '/x/b.ts',
    '/t.ts',
    '/x/c.ts',
    '/x/d.ts',
    '/x/e.ts',
  ]);
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['e']],
    ['e', []],
  ]);
  assert.deepEqual(findCycles(graph), [['a', 'b', 'c']]);
});

function sourceGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ROOTS.flatMap((r) => tsFiles(join(REPO, r))))
    graph.set(file, importsOf(file, readFileSync(file, 'utf8')));
  assert.ok(graph.size > 100, `only ${graph.size} modules under ${REPO}`);
  return graph;
}

test('the builder imports the runner only through its executor', () => {
  const door = new Set(['runner/executor.ts', 'runner/namespace-executor.ts']);
  const reached = [...sourceGraph()]
    .filter(([file]) => relative(REPO, file).startsWith('builder/'))
    .flatMap(([file, imports]) =>
      imports
        .map((i) => relative(REPO, i))
        .filter((i) => i.startsWith('runner/') && !door.has(i))
        .map((i) => `${relative(REPO, file)} -> ${i}`),
    );
  assert.deepEqual(reached, []);
});

test('no import cycles in the sources (type-only and dynamic imports included)', () => {
  const graph = sourceGraph();
  const shown = findCycles(graph).map((c) =>
    [...c, c[0]!].map((f) => relative(REPO, f).replace(/\.ts$/, '')).join(' -> '),
  );
  const fresh = shown.filter((c) => !KNOWN.has(c));
  assert.deepEqual(fresh, [], `import cycles:\n${fresh.join('\n')}`);
  const gone = [...KNOWN].filter((c) => !shown.includes(c));
  assert.deepEqual(gone, [], 'cycles no longer there: remove them from KNOWN');
});
