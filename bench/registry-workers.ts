// Registry throughput under concurrency, side by side in one run: the reference registry (one Go
// process, every core), tsregistry with one process on LevelDB and on PostgreSQL, and tsregistry
// with its workers (one per CPU) on PostgreSQL (a throwaway local cluster, test/helpers/postgres.ts). Fresh temp
// dirs on 127.0.0.1, no auth, filesystem storage.
//   - blob GET of a BLOB_MIB blob with wrk -cC (C = 2, 8, 32): MB/s and p99 latency
//   - 8 parallel monolithic uploads (POST, then curl PUT ?digest= with the bytes) of distinct
//     16 MiB blobs: MB/s
//   - manifest GET by tag, wrk -c32: requests/s (the caches stay on with workers)
// Prints medians over RUNS rounds (targets in a rotating order) and ratios to the reference.
// Usage: node dist/bench/registry-workers.js [--blob-mib 16] [--duration 5] [--runs 3]
//   [--only uploads] (just the parallel uploads)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startPostgres } from '../test/helpers/postgres.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { makeImage, sha256, spawnRegistry } from '../test/helpers/registry-server.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const BLOB_MIB = flag('blob-mib', 16);
const DURATION = flag('duration', 5);
const RUNS = flag('runs', 3);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
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

/** wrk against `url`: requests/s, MB/s and p99 latency in ms. */
function wrk(url: string, connections: number, work: string) {
  const script = join(work, 'accept.lua');
  writeFileSync(script, 'wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"\n');
  const r = spawnSync(
    'wrk',
    [
      '--latency',
      `-c${connections}`,
      `-t${Math.min(2, connections)}`,
      `-d${DURATION}s`,
      '-s',
      script,
      url,
    ],
    { encoding: 'utf8' },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(r.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  if (!rps || !transfer || !p99 || /Non-2xx/.test(r.stdout))
    throw new Error(`wrk ${url}: ${r.stdout}${r.stderr}`);
  const unit = { KB: 1 / 1024, MB: 1, GB: 1024 }[transfer[2]!] ?? 1;
  const ms = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
  return { rps: Number(rps[1]), mbs: Number(transfer[1]) * unit, p99: Number(p99[1]) * ms };
}

/** A session's URL for a single-PUT (monolithic) upload of `digest`. */
async function uploadUrl(url: string, repo: string, digest: string): Promise<string> {
  const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.arrayBuffer();
  if (post.status !== 202) throw new Error(`upload start: ${post.status}`);
  const loc = new URL(post.headers.get('location')!, url);
  loc.searchParams.set('digest', digest);
  return loc.toString();
}

/** UPLOADS curl processes at once, each one PUT of its own 16 MiB blob: MB/s. */
async function parallelUploads(url: string, work: string): Promise<number> {
  const files = Array.from({ length: UPLOADS }, (_, i) => {
    const data = randomBytes(16 << 20);
    const file = join(work, `up${i}`);
    writeFileSync(file, data);
    return { file, digest: sha256(data) };
  });
  const targets = await Promise.all(files.map((f) => uploadUrl(url, 'bench/up', f.digest)));
  const begin = process.hrtime.bigint();
  await Promise.all(
    files.map(
      ({ file }, i) =>
        new Promise<void>((resolve, reject) => {
          const c = spawn('curl', [
            '-sf',
            '-o',
            '/dev/null',
            '-X',
            'PUT',
            '-H',
            'Content-Type: application/octet-stream',
            '--data-binary',
            `@${file}`,
            targets[i]!,
          ]);
          c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl ${code}`))));
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  return (UPLOADS * 16) / seconds;
}

async function measure(url: string, work: string): Promise<Figures> {
  const img = makeImage([BLOB_MIB << 20]);
  for (const blob of [img.config, ...img.layers]) {
    const res = await fetch(await uploadUrl(url, 'bench/img', sha256(blob)), {
      method: 'PUT',
      body: blob,
    });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`blob PUT: ${res.status}`);
  }
  const put = await fetch(`${url}/v2/bench/img/manifests/v1`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: img.manifest,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`manifest PUT: ${put.status}`);
  const blobUrl = `${url}/v2/bench/img/blobs/${sha256(img.layers[0]!)}`;
  const out: Figures = {};
  if (ONLY === 'uploads') {
    out['uploads'] = await parallelUploads(url, work);
    return out;
  }
  for (const c of CONNECTIONS) {
    const w = wrk(blobUrl, c, work);
    out[`get${c}`] = w.mbs;
    out[`p99_${c}`] = w.p99;
  }
  out['uploads'] = await parallelUploads(url, work);
  out['manifest'] = wrk(`${url}/v2/bench/img/manifests/v1`, 32, work).rps;
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
