// Metadata-bound registry requests, side by side in one run: the reference registry (CNCF
// distribution, Debian's docker-registry, metadata as files), tsregistry on its embedded LevelDB,
// and tsregistry on PostgreSQL (a throwaway local cluster, test/helpers/postgres.ts). Each is
// fresh in a temp dir on 127.0.0.1, no auth; the client is Node's fetch with C requests in flight.
//   - manifest PUT under a new tag (the manifest's blobs already pushed): a metadata write
//   - tags list of that repository (every tag pushed above): an uncached metadata read
//   - upload session start + cancel (POST, then DELETE): a session write and delete
// Prints requests/s (medians over RUNS rounds, registries in a rotating order) and the ratios.
// Usage: node dist/bench/registry-metadata.js [--requests 400] [--concurrency 8] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../test/helpers/postgres.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { makeImage, sha256, spawnRegistry } from '../test/helpers/registry-server.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const REQUESTS = flag('requests', 400);
const CONCURRENCY = flag('concurrency', 8);
const RUNS = flag('runs', 3);

interface Target {
  url: string;
  close(): Promise<void>;
}
type Figures = { put: number; tags: number; session: number };
const NAMES = ['reference registry', 'tsregistry (LevelDB)', 'tsregistry (PostgreSQL)'] as const;

/** Runs `op(i)` for i in 0..n-1 with CONCURRENCY in flight; requests per second. */
async function rate(n: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function ok(res: Response, status: number, what: string): Promise<void> {
  const body = await res.arrayBuffer();
  if (res.status !== status)
    throw new Error(`${what}: ${res.status} ${Buffer.from(body).toString().slice(0, 200)}`);
}

async function measure(url: string): Promise<Figures> {
  const repo = 'bench/meta';
  const img = makeImage([1024]);
  for (const blob of [img.config, ...img.layers]) {
    // POST then PUT with the bytes: the upload flow every registry supports
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await ok(post, 202, 'upload start');
    const loc = new URL(post.headers.get('location')!, url);
    loc.searchParams.set('digest', sha256(blob));
    await ok(await fetch(loc, { method: 'PUT', body: blob }), 201, 'blob PUT');
  }
  const put = await rate(REQUESTS, async (i) => {
    const res = await fetch(`${url}/v2/${repo}/manifests/t${i}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: img.manifest,
    });
    await ok(res, 201, 'manifest PUT');
  });
  const tags = await rate(REQUESTS * 2, async () => {
    await ok(await fetch(`${url}/v2/${repo}/tags/list`), 200, 'tags list');
  });
  const session = await rate(REQUESTS, async () => {
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await ok(post, 202, 'upload start');
    const loc = new URL(post.headers.get('location')!, url);
    await ok(await fetch(loc, { method: 'DELETE' }), 204, 'upload cancel');
  });
  return { put, tags, session };
}

async function start(which: (typeof NAMES)[number], dsn: () => Promise<string>): Promise<Target> {
  if (which === 'reference registry') return await startReferenceRegistry();
  const root = mkdtempSync(join(tmpdir(), 'tsreg-benchmeta-'));
  const yaml =
    which === 'tsregistry (PostgreSQL)'
      ? `metadata:\n  postgres:\n    dsn: ${await dsn()}\n    poolsize: 10\n`
      : '';
  const proc = await spawnRegistry(root, yaml);
  return {
    url: proc.url,
    close: async () => {
      await proc.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const pg = await startPostgres();
  let databases = 0;
  const results = new Map<string, Figures[]>(NAMES.map((n) => [n, []]));
  try {
    for (let round = 0; round < RUNS; round++) {
      for (let k = 0; k < NAMES.length; k++) {
        const name = NAMES[(round + k) % NAMES.length]!;
        const target = await start(name, () => pg.createDatabase(`bench_${++databases}`));
        try {
          results.get(name)!.push(await measure(target.url));
        } finally {
          await target.close();
        }
      }
    }
  } finally {
    await pg.close();
  }
  const fig = (name: string, key: keyof Figures) => median(results.get(name)!.map((f) => f[key]));
  const rows: Array<[string, keyof Figures]> = [
    ['manifest PUT, new tag', 'put'],
    ['tags list', 'tags'],
    ['upload start + cancel', 'session'],
  ];
  console.log(
    `${REQUESTS} requests (tags list: ${REQUESTS * 2}), ${CONCURRENCY} in flight, median of ${RUNS} rounds; requests/s\n`,
  );
  console.log(`| what | ${NAMES.join(' | ')} | PostgreSQL / reference | PostgreSQL / LevelDB |`);
  console.log('|---|---|---|---|---|---|');
  for (const [label, key] of rows) {
    const [ref, level, pgr] = NAMES.map((n) => fig(n, key)) as [number, number, number];
    console.log(
      `| ${label} | ${ref.toFixed(0)} | ${level.toFixed(0)} | ${pgr.toFixed(0)} | ${(pgr / ref).toFixed(2)}x | ${(pgr / level).toFixed(2)}x |`,
    );
  }
}

await main();
