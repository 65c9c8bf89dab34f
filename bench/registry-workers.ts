// Registry throughput under concurrency, side by side in one run: the reference registry (one Go
// process, every core), tsregistry with one process on LevelDB and on PostgreSQL, and tsregistry
// with its workers (one per CPU) on PostgreSQL (a throwaway local cluster, test/helpers/postgres.ts). Fresh temp
// dirs on 127.0.0.1, no auth, filesystem storage.
//   - blob GET of a BLOB_MIB blob with wrk -cC (C = 2, 8, 32): MB/s and p99 latency
//   - 8 parallel monolithic uploads (POST, then curl PUT ?digest= with the bytes) of distinct
//     16 MiB blobs: MB/s
//   - manifest GET by tag, wrk -c32: requests/s (with PostgreSQL each asks the database where the
//     tag points; concurrent reads of one tag share a query: fresh-reads.ts)
// Prints medians over RUNS rounds (targets in a rotating order) and ratios to the reference.
// Usage: node dist/bench/registry-workers.js [--blob-mib 16] [--duration 5] [--runs 3]
//   [--only uploads] (just the parallel uploads)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../test/helpers/postgres.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { spawnRegistry } from '../test/helpers/registry-server.js';
import { flag, parallelUploads, pushBenchImage, wrk } from './registry-load.js';

const BLOB_MIB = flag('blob-mib', 16);
const DURATION = flag('duration', 5);
const RUNS = flag('runs', 3);
const argv = process.argv.slice(2);
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const CONNECTIONS = [2, 8, 32];
const UPLOADS = 8;
const NAMES = [
  'reference registry',
  'tsregistry 1 process (LevelDB)',
  'tsregistry 1 process (PostgreSQL)',
  'tsregistry workers (PostgreSQL)',
] as const;

interface Target {
  url: string;
  close(): Promise<void>;
}
type Figures = Record<string, number>;

async function start(name: (typeof NAMES)[number], dsn: () => Promise<string>): Promise<Target> {
  if (name === 'reference registry') return await startReferenceRegistry();
  const root = mkdtempSync(join(tmpdir(), 'tsreg-benchw-'));
  const yaml = name.includes('PostgreSQL')
    ? `metadata:\n  postgres:\n    dsn: ${await dsn()}\n    poolsize: 10\n`
    : '';
  const proc = await spawnRegistry(
    root,
    yaml,
    name.includes('1 process') ? ['--workers', '1'] : [],
  );
  // Every worker up: the primary forks them together; give the last a moment to listen.
  await new Promise((r) => setTimeout(r, 1000));
  return {
    url: proc.url,
    close: async () => {
      await proc.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function measure(url: string, work: string): Promise<Figures> {
  const { blobUrl, manifestUrl } = await pushBenchImage(url, BLOB_MIB);
  const out: Figures = {};
  if (ONLY === 'uploads') {
    out['uploads'] = await parallelUploads(url, work, UPLOADS);
    return out;
  }
  for (const c of CONNECTIONS) {
    const w = wrk(blobUrl, c, work, DURATION);
    out[`get${c}`] = w.mbs;
    out[`p99_${c}`] = w.p99;
  }
  out['uploads'] = await parallelUploads(url, work, UPLOADS);
  out['manifest'] = wrk(manifestUrl, 32, work, DURATION).rps;
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const pg = await startPostgres();
  const work = mkdtempSync(join(tmpdir(), 'tsreg-benchw-work-'));
  let databases = 0;
  const results = new Map<string, Figures[]>(NAMES.map((n) => [n, []]));
  try {
    for (let round = 0; round < RUNS; round++)
      for (let k = 0; k < NAMES.length; k++) {
        const name = NAMES[(round + k) % NAMES.length]!;
        const target = await start(name, () => pg.createDatabase(`benchw_${++databases}`));
        try {
          results.get(name)!.push(await measure(target.url, work));
        } finally {
          await target.close();
        }
      }
  } finally {
    await pg.close();
    rmSync(work, { recursive: true, force: true });
  }
  const fig = (name: string, key: string) => median(results.get(name)!.map((f) => f[key]!));
  const rows: Array<[string, string, boolean]> = [
    ...CONNECTIONS.flatMap((c): Array<[string, string, boolean]> => [
      [`blob GET ${BLOB_MIB} MiB, ${c} connections, MB/s`, `get${c}`, true],
      [`  p99 latency, ms`, `p99_${c}`, false],
    ]),
    [`${UPLOADS} parallel 16 MiB monolithic uploads, MB/s`, 'uploads', true],
    ['manifest GET by tag, 32 connections, req/s', 'manifest', true],
  ];
  console.log(`median of ${RUNS} rounds, wrk ${DURATION}s per figure\n`);
  console.log(`| what | ${NAMES.join(' | ')} | LevelDB / reference | workers / reference |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, key, higherBetter] of rows) {
    if (ONLY !== undefined && key !== ONLY) continue;
    const [ref, one, onePg, many] = NAMES.map((n) => fig(n, key)) as [
      number,
      number,
      number,
      number,
    ];
    const ratio = (x: number) => `${(higherBetter ? x / ref : ref / x).toFixed(2)}x`;
    console.log(
      `| ${label} | ${ref.toFixed(1)} | ${one.toFixed(1)} | ${onePg.toFixed(1)} | ${many.toFixed(1)} | ${ratio(one)} | ${ratio(many)} |`,
    );
  }
  console.log(
    '\n(ratios: higher is better for tsregistry; for p99, reference p99 / tsregistry p99)',
  );
}

await main();
