// S3 storage benchmark, side by side in one run on one radosgw (a one-node memstore cluster,
// scripts/radosgw-cluster.sh): tsregistry with `storage.s3` and the reference registry's S3
// driver (Debian's docker-registry), each on its own bucket, no auth. skopeo pushes and pulls a
// single-layer image (default 64 MiB); MB/s are medians over RUNS rounds, alternating which
// registry goes first. Prints a markdown table with the tsregistry/reference ratios.
// Usage: node dist/bench/registry-s3.js [--size-mib 64] [--runs 3]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRadosgw } from '../test/helpers/radosgw.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';
import { makeImage, run, startRegistry, writeOciLayout } from '../test/helpers/registry-server.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const sizeMiB = flag('--size-mib', 64);
const runs = flag('--runs', 3);

/** Runs skopeo (asynchronously: tsregistry serves from this process) and returns seconds. */
async function skopeo(...a: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('skopeo', a, { timeoutMs: 300_000 });
  if (r.status !== 0) throw new Error(`skopeo ${a.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rgw = await startRadosgw();
const dir = mkdtempSync(join(tmpdir(), 'tsdock-bench-s3-'));
try {
  const [tsBucket, refBucket] = [await rgw.bucket(), await rgw.bucket()];
  const ts = await startRegistry({
    root: join(dir, 'ts'),
    configure: (c) => {
      c.storage.s3 = rgw.config(tsBucket, { rootdirectory: 'bench' });
    },
  });
  const ref = await startReferenceRegistry({
    storageYaml: [
      '  s3:',
      '    region: us-east-1',
      `    regionendpoint: ${rgw.endpoint}`,
      `    bucket: ${refBucket}`,
      `    accesskey: ${rgw.accessKey}`,
      `    secretkey: ${rgw.secretKey}`,
      '    secure: false',
      '    v4auth: true',
      '    rootdirectory: /bench',
      '  redirect:',
      '    disable: true',
    ].join('\n'),
  });
  const targets = [
    { name: 'tsregistry', host: ts.host, push: [] as number[], pull: [] as number[] },
    { name: 'reference', host: ref.host, push: [] as number[], pull: [] as number[] },
  ];
  const mb = (sizeMiB * 1024 * 1024) / 1e6;
  try {
    for (let round = 0; round < runs; round++) {
      const img = makeImage([randomBytes(sizeMiB * 1024 * 1024)]);
      const layout = join(dir, `in-${round}`);
      writeOciLayout(layout, 'v1', img);
      const order = round % 2 ? [...targets].reverse() : targets;
      for (const t of order) {
        const ref = `docker://${t.host}/bench/s3:r${round}`;
        t.push.push(
          mb /
            (await skopeo(
              'copy',
              '--preserve-digests',
              '--dest-tls-verify=false',
              `oci:${layout}:v1`,
              ref,
            )),
        );
        const out = join(dir, `out-${t.name}-${round}`);
        t.pull.push(
          mb /
            (await skopeo(
              'copy',
              '--preserve-digests',
              '--src-tls-verify=false',
              ref,
              `oci:${out}:v1`,
            )),
        );
        rmSync(out, { recursive: true, force: true });
      }
      rmSync(layout, { recursive: true, force: true });
    }
  } finally {
    await ts.close();
    await ref.close();
  }
  const [a, b] = targets as [(typeof targets)[0], (typeof targets)[0]];
  console.log(
    `skopeo push/pull of a ${sizeMiB} MiB single-layer image, S3 storage on one radosgw, median of ${runs}\n`,
  );
  console.log('| | tsregistry MB/s | reference MB/s | ratio |');
  console.log('|---|---|---|---|');
  for (const k of ['push', 'pull'] as const)
    console.log(
      `| ${k} | ${median(a[k]).toFixed(1)} | ${median(b[k]).toFixed(1)} | ${(median(a[k]) / median(b[k])).toFixed(2)}x |`,
    );
} finally {
  await rgw.close();
  rmSync(dir, { recursive: true, force: true });
}
