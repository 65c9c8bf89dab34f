// Runs the compiled test files of the named groups (unit, integration, privileged) with node:test.
// Usage: node scripts/run-tests.mjs GROUP... [-- extra node --test args]
// Filter by TEST_FILTER=substring to run only matching files.
// Runs as root (privileged ones above all) use a bridge of their own (TSDOCK_BRIDGE and
// TSDOCK_SUBNET, unless given) for the containers and RUN steps of every test file, and remove
// it and its NAT rules at the end when it did not exist before, so a test run leaves no bridge
// or iptables rule behind. At the end it lists the skipped tests with their reasons (a peer not
// installed here: with CI=true such a test fails instead, see test/helpers/peers.ts).
import { readdirSync, statSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
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
const asRoot = process.getuid?.() === 0;
if (asRoot && !process.env.TSDOCK_BRIDGE) {
  process.env.TSDOCK_BRIDGE = `tstest${process.pid % 1000000}`;
  process.env.TSDOCK_SUBNET ??= `10.${200 + (process.pid % 50)}.${(process.pid >> 6) % 256}.0/24`;
}
const bridgeDev = `/sys/class/net/${process.env.TSDOCK_BRIDGE ?? 'tsdock0'}`;
const bridgeBefore = existsSync(bridgeDev);
const concurrency = rootOnly ? '1' : '2';
const skipDir = mkdtempSync(join(tmpdir(), 'tsdock-skips-'));
const skipFile = join(skipDir, 'skipped.jsonl');
const res = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(import.meta.dirname, 'skip-reporter.mjs')}`,
    `--test-reporter-destination=${skipFile}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
printSkipped();
rmSync(skipDir, { recursive: true, force: true });
if (asRoot && !bridgeBefore && (rootOnly || existsSync(bridgeDev))) {
  const removal = spawnSync(
    process.execPath,
    [join('dist', 'bin', 'tsnetwork.js'), 'rm', '--force'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (removal.status !== 0) console.error('could not remove the test bridge (see above)');
}
process.exit(res.status ?? 1);

/** The skipped tests, grouped by reason, so a run that proved less than it seems says so. */
function printSkipped() {
  const lines = existsSync(skipFile) ? readFileSync(skipFile, 'utf8').split('\n') : [];
  const skipped = lines.filter(Boolean).map((l) => JSON.parse(l));
  if (skipped.length === 0) return;
  const byReason = new Map();
  for (const s of skipped) {
    const where = `${relative('dist', s.file ?? '?')}: ${s.name}`;
    const reason = s.reason || '(no reason given)';
    byReason.set(reason, [...(byReason.get(reason) ?? []), where]);
  }
  const partial = skipped.filter((s) => s.partial).length;
  const whole = skipped.length - partial;
  console.log(`\n${whole} skipped test(s), ${partial} peer comparison(s) left out:`);
  for (const [reason, tests] of byReason) {
    console.log(`  ${reason}`);
    for (const t of tests) console.log(`    ${t}`);
  }
}
