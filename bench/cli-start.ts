// Benchmark: start-up of a command, `tsimages --help`, as installed (the file run as an
// executable: its sh launcher line sets NODE_EXTRA_CA_CERTS aside, scripts/bundle.mjs), against
// the GNU `env -S -u NODE_EXTRA_CA_CERTS` shebang it replaced, against plain `node tsimages.js`
// with the caller's NODE_EXTRA_CA_CERTS (what `#!/usr/bin/env node` costs when that variable is
// set: Node parses the CA file before any code runs), and docker's CLI `docker images --help`
// when docker is installed. hyperfine, interleaved warm-up; prints a markdown table with ratios.
// Usage: node dist/bench/cli-start.js [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.argv[2] ?? 40);
const TSIMAGES = fileURLToPath(new URL('../bin/tsimages.js', import.meta.url));
const CA = process.env.NODE_EXTRA_CA_CERTS || '/etc/ssl/certs/ca-certificates.crt';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const candidates: [string, string][] = [
  ['tsimages --help (launcher, as installed)', `${q(TSIMAGES)} --help`],
  [
    '  same, GNU env -S -u shebang (before)',
    `/usr/bin/env -S ${q(`-u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${CA} node`)} ${q(TSIMAGES)} --help`,
  ],
  ['  same, node tsimages.js (CA file parsed)', `node ${q(TSIMAGES)} --help`],
];
if (has('docker')) candidates.push(['docker images --help', 'docker images --help']);

if (!has('hyperfine')) {
  console.error('cli-start: needs hyperfine (scripts/install-deps.sh test)');
  process.exit(125);
}
const dir = mkdtempSync(join(tmpdir(), 'tsdock-cli-bench-'));
try {
  const json = join(dir, 'out.json');
  const r = spawnSync(
    'hyperfine',
    ['-N', '-w', '5', '-r', String(RUNS), '--export-json', json, ...candidates.map((c) => c[1])],
    {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: CA, TSDOCK_ROOT: join(dir, 'state') },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  const results = (
    JSON.parse(readFileSync(json, 'utf8')) as {
      results: { median: number; min: number; user: number; system: number }[];
    }
  ).results;
  const base = results[0]!;
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  console.log('| command | median | min | CPU (user+sys) | median vs launcher |');
  console.log('|---|---|---|---|---|');
  results.forEach((res, i) => {
    console.log(
      `| ${candidates[i]![0]} | ${ms(res.median)} | ${ms(res.min)} | ${ms(res.user + res.system)} | ${(res.median / base.median).toFixed(2)}x |`,
    );
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
