// Runs the compiled test files of the named groups (unit, integration, privileged) with node:test.
// Usage: node scripts/run-tests.mjs GROUP... [-- extra node --test args]
// Filter by TEST_FILTER=substring to run only matching files.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const groups = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const filter = process.env.TEST_FILTER ?? '';

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const rootOnly = groups.includes('privileged') || groups.includes('e2e');
if (rootOnly && process.getuid?.() !== 0) {
  console.error('test:privileged needs root (namespaces, overlay mounts, cgroups); run it as root');
  process.exit(125);
}

const files = groups
  .flatMap((g) => walk(join('dist', 'test', g)))
  .filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error(`no test files for ${groups.join(', ')} (did you run "npm run build"?)`);
  process.exit(1);
}
const concurrency = rootOnly ? '1' : '2';
const res = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
