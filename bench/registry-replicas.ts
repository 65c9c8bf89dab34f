// Throughput from 1 to 3 tsregistry replicas behind HAProxy (test/helpers/ha-cluster.ts), side by
// side in one run with the reference registry as one process: each replica `--workers W`
// (default 1), metadata in one PostgreSQL database (a throwaway local cluster), blobs in one
// shared filesystem directory (default) or one radosgw bucket (`--s3`; a one-node memstore
// cluster, slower and RAM-bound here, so the filesystem is the default). No auth.
//   - blob GET of a BLOB_MIB blob with wrk -c32 through the balancer: MB/s and p99 latency
//   - 8 parallel monolithic uploads of distinct 16 MiB blobs with curl: MB/s
//   - manifest GET by tag, wrk -c32: requests/s
// The reference registry runs as one process both directly and behind the same HAProxy, so
// the replica ratios compare like with like (every request through one balancer hop).
// Prints medians over RUNS rounds, the ratio of each to the reference behind HAProxy, and the
// growth over one replica. Usage: node dist/bench/registry-replicas.js [--blob-mib 16] [--duration 5]
// [--runs 1] [--workers 1] [--s3]
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { startRadosgw, type TestRadosgw } from '../test/helpers/radosgw.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { startHaproxy, startReplica, type Replica } from '../test/helpers/ha-cluster.js';
import { flag, parallelUploads, pushBenchImage, wrk } from './registry-load.js';

const BLOB_MIB = flag('blob-mib', 16);
const DURATION = flag('duration', 5);
const RUNS = flag('runs', 1);
const WORKERS = flag('workers', 1);
const S3 = process.argv.includes('--s3');
const UPLOADS = 8;
const TARGETS = ['reference', 'reference-ha', 1, 2, 3] as const;
type TargetName = (typeof TARGETS)[number];
type Figures = Record<string, number>;

interface Target {
  url: string;
  close(): Promise<void>;
}

/** A `storage.s3` block (indented 2) for a fresh bucket on `rgw`, with `extra` lines. */
async function s3Yaml(rgw: TestRadosgw, extra: string[]): Promise<string> {
  return [
    '  s3:',
    '    region: us-east-1',
    `    regionendpoint: ${rgw.endpoint}`,
    `    bucket: ${await rgw.bucket()}`,
    `    accesskey: ${rgw.accessKey}`,
    `    secretkey: ${rgw.secretKey}`,
    ...extra,
  ].join('\n');
}

/** `n` replicas on a fresh database and blob store, behind a fresh HAProxy. */
async function cluster(
  n: number,
  pg: TestPostgres,
  rgw: TestRadosgw | undefined,
  id: number,
): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-bench-ha-'));
  const dsn = await pg.createDatabase(`bench_ha_${id}`);
  const storageYaml = rgw ? await s3Yaml(rgw, ['    forcepathstyle: true']) : undefined;
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < n; i++)
      replicas.push(
        await startReplica(`r${i}`, {
          root: join(dir, `r${i}`),
          blobRoot: rgw ? undefined : join(dir, 'blobs'),
          dsn,
          workers: WORKERS,
          storageYaml,
        }),
      );
    const balancer = await startHaproxy(join(dir, 'haproxy'), replicas);
    return {
      url: balancer.url,
      close: async () => {
        await balancer.stop();
        await Promise.all(replicas.map((r) => r.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(replicas.map((r) => r.kill9()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The reference registry on the same storage kind, directly or behind its own HAProxy. */
async function reference(rgw: TestRadosgw | undefined, balanced: boolean): Promise<Target> {
  const registry = await startReferenceRegistry(
    rgw
      ? {
          storageYaml: await s3Yaml(rgw, [
            '    secure: false',
            '    v4auth: true',
            '  redirect:',
            '    disable: true',
          ]),
        }
      : {},
  );
  if (!balanced) return registry;
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-bench-ha-ref-'));
  try {
    const port = Number(new URL(registry.url).port);
    const balancer = await startHaproxy(dir, [{ port }], '/v2/');
    return {
      url: balancer.url,
      close: async () => {
        await balancer.stop();
        await registry.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function measure(url: string, work: string): Promise<Figures> {
  const { blobUrl, manifestUrl } = await pushBenchImage(url, BLOB_MIB);
  const get = wrk(blobUrl, 32, work, DURATION);
  return {
    get: get.mbs,
    p99: get.p99,
    uploads: await parallelUploads(url, work, UPLOADS),
    manifest: wrk(manifestUrl, 32, work, DURATION).rps,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const pg = await startPostgres();
  const rgw = S3 ? await startRadosgw() : undefined;
  const work = mkdtempSync(join(tmpdir(), 'tsreg-bench-ha-work-'));
  const results = new Map<TargetName, Figures[]>(TARGETS.map((t) => [t, []]));
  let id = 0;
  try {
    for (let round = 0; round < RUNS; round++)
      for (let k = 0; k < TARGETS.length; k++) {
        const t = TARGETS[(round + k) % TARGETS.length]!;
        const target =
          typeof t === 'number'
            ? await cluster(t, pg, rgw, ++id)
            : await reference(rgw, t === 'reference-ha');
        try {
          results.get(t)!.push(await measure(target.url, work));
        } finally {
          await target.close();
        }
      }
  } finally {
    await rgw?.close();
    await pg.close();
    rmSync(work, { recursive: true, force: true });
  }
  const fig = (t: TargetName, key: string) => median(results.get(t)!.map((f) => f[key]!));
  const storage = S3 ? 'one radosgw bucket (memstore)' : 'one shared filesystem directory';
  console.log(
    `median of ${RUNS} round(s), wrk ${DURATION}s per figure; replicas: --workers ${WORKERS} each, ` +
      `PostgreSQL metadata, ${storage}, behind HAProxy; reference: one process, same storage ` +
      'kind, directly and behind the same HAProxy (ref HA); ratios are to ref HA\n',
  );
  console.log(
    '| what | reference | ref HA | 1 replica | 2 replicas | 3 replicas | 1 / ref HA | 2 / ref HA | 3 / ref HA | 3 / 1 |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const rows: Array<[string, string]> = [
    [`blob GET ${BLOB_MIB} MiB, 32 connections, MB/s`, 'get'],
    ['  p99 latency, ms', 'p99'],
    [`${UPLOADS} parallel 16 MiB monolithic uploads, MB/s`, 'uploads'],
    ['manifest GET by tag, 32 connections, req/s', 'manifest'],
  ];
  for (const [label, key] of rows) {
    const direct = fig('reference', key);
    const ref = fig('reference-ha', key);
    const n = [1, 2, 3].map((r) => fig(r as 1 | 2 | 3, key));
    const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
    console.log(
      `| ${label} | ${direct.toFixed(0)} | ${ref.toFixed(0)} | ` +
        `${n.map((x) => x.toFixed(0)).join(' | ')} | ` +
        `${n.map((x) => ratio(x, ref)).join(' | ')} | ${ratio(n[2]!, n[0]!)} |`,
    );
  }
  console.log(
    `\nWhat bounds growth here: ${availableParallelism()} cores run wrk or curl, HAProxy, ` +
      'PostgreSQL and every replica together; a replica adds processes, not cores, so ' +
      'throughput beyond what one replica with its workers already uses of both cores can only ' +
      'come from overlapping waits (I/O, database round trips); the HAProxy hop costs the same ' +
      'CPU here as a server does (compare reference and ref HA). On separate machines replicas add ' +
      'cores and the shared database and bucket become the limit.',
  );
}

await main();
