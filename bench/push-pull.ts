// Benchmark: push and pull of one 256 MiB single-layer image (random bytes, so compression does
// nothing; stored as a gzip stream of stored blocks) against the reference registry, skopeo vs
// tspush/tspull, same run, same input. Each round gives each client a fresh registry (push, then
// pull of what that registry holds), skopeo and tsdock alternating which goes first so drift in
// the machine's load does not favour either. Prints the median seconds, MB/s and the ratio
// tsdock/skopeo (target >= 1), and each round's ratios.
// Usage: node dist/bench/push-pull.js [MiB=256] [ROUNDS=5]
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { digestFile } from '../shared/digest.js';
import { MediaType } from '../shared/media-types.js';
import { ContentStore } from '../shared/store/content-store.js';
import { startReferenceRegistry } from '../test/helpers/reference-registry.js';

const mib = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 5);
const binDir = fileURLToPath(new URL('../bin/', import.meta.url));
const LOCAL = 'bench/pushpull:latest';

async function makeImage(work: string, storeRoot: string): Promise<number> {
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const fd = openSync(join(dataDir, 'random.bin'), 'w');
  const chunk = Buffer.alloc(4 << 20);
  for (let i = 0; i < mib / 4; i++) writeSync(fd, randomFillSync(chunk));
  closeSync(fd);
  const tarPath = join(work, 'layer.tar');
  const t = spawnSync('tar', ['-cf', tarPath, '-C', dataDir, 'random.bin']);
  if (t.status !== 0) throw new Error(`tar failed: ${t.stderr.toString()}`);
  const diffId = (await digestFile(tarPath)).digest;
  const store = await ContentStore.open(storeRoot);
  const layer = await store.writeBlob(createReadStream(tarPath).pipe(createGzip({ level: 0 })));
  rmSync(dataDir, { recursive: true });
  rmSync(tarPath);
  const config = await store.putJson(
    {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
    },
    MediaType.OciConfig,
  );
  const manifest = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
    },
    MediaType.OciManifest,
  );
  await store.tag(LOCAL, manifest);
  return layer.size;
}

function timed(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(file, args, { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${r.stderr}`);
  return s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function line(what: string, bytes: number, skopeo: number[], ts: number[]): string {
  const mbs = (s: number): string => `${(bytes / 1e6 / s).toFixed(0)} MB/s`;
  const sk = median(skopeo);
  const t = median(ts);
  const rounds = skopeo.map((x, i) => (x / ts[i]!).toFixed(2)).join(' ');
  return (
    `${what.padEnd(5)} skopeo ${sk.toFixed(2)} s (${mbs(sk)})   ` +
    `tsdock ${t.toFixed(2)} s (${mbs(t)})   ratio tsdock/skopeo ${(sk / t).toFixed(2)}` +
    `   (rounds: ${rounds})`
  );
}

interface Times {
  push: number;
  pull: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tsdock-bench-pp-'));
  try {
    const root = join(work, 'root');
    const storeRoot = join(root, 'images');
    const size = await makeImage(work, storeRoot);
    const env = { ...process.env, TSDOCK_ROOT: root, TSDOCK_CONFIG: join(work, 'config') };
    const src = `oci:${storeRoot}:docker.io/${LOCAL}`;
    const skopeo = async (): Promise<Times> => {
      const reg = await startReferenceRegistry();
      const out = join(work, 'skopeo-pull');
      try {
        const push = timed('skopeo', [
          'copy',
          '-q',
          '--dest-tls-verify=false',
          src,
          `docker://${reg.host}/bench/pp:v1`,
        ]);
        const pull = timed('skopeo', [
          'copy',
          '-q',
          '--src-tls-verify=false',
          `docker://${reg.host}/bench/pp:v1`,
          `oci:${out}:v1`,
        ]);
        return { push, pull };
      } finally {
        rmSync(out, { recursive: true, force: true });
        await reg.close();
      }
    };
    const tsdock = async (): Promise<Times> => {
      const reg = await startReferenceRegistry();
      const pullRoot = join(work, 'pull-root');
      try {
        const push = timed(
          process.execPath,
          [join(binDir, 'tspush.js'), '-q', LOCAL, `${reg.host}/bench/pp:v1`],
          env,
        );
        const pull = timed(
          process.execPath,
          [join(binDir, 'tspull.js'), '-q', `${reg.host}/bench/pp:v1`],
          { ...env, TSDOCK_ROOT: pullRoot },
        );
        return { push, pull };
      } finally {
        rmSync(pullRoot, { recursive: true, force: true });
        await reg.close();
      }
    };
    const sk: Times[] = [];
    const ts: Times[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        sk.push(await skopeo());
        ts.push(await tsdock());
      } else {
        ts.push(await tsdock());
        sk.push(await skopeo());
      }
    }
    console.log(
      `push/pull of a ${mib} MiB single-layer image (${size} bytes) against the reference registry, median of ${ROUNDS} rounds`,
    );
    const col = (xs: Times[], k: keyof Times): number[] => xs.map((x) => x[k]);
    console.log(line('push', size, col(sk, 'push'), col(ts, 'push')));
    console.log(line('pull', size, col(sk, 'pull'), col(ts, 'pull')));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
