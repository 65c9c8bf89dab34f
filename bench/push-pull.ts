// Benchmark: push and pull of one 256 MiB single-layer image (random bytes, so compression does
// nothing; stored as a gzip stream of stored blocks) against the reference registry, skopeo vs
// tspush/tspull, same run, same input. Each push goes to a fresh registry; each pull reads what
// that registry holds. Prints seconds, MB/s and the ratio tsdock/skopeo (target >= 1).
// Usage: node dist/bench/push-pull.js [MiB=256]
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
import {
  startReferenceRegistry,
  type ReferenceRegistry,
} from '../test/helpers/reference-registry.js';

const mib = Number(process.argv[2] ?? 256);
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

function line(what: string, bytes: number, skopeo: number, ts: number): string {
  const mbs = (s: number): string => `${(bytes / 1e6 / s).toFixed(0)} MB/s`;
  return (
    `${what.padEnd(5)} skopeo ${skopeo.toFixed(2)} s (${mbs(skopeo)})   ` +
    `tsdock ${ts.toFixed(2)} s (${mbs(ts)})   ratio tsdock/skopeo ${(skopeo / ts).toFixed(2)}`
  );
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tsdock-bench-pp-'));
  const regs: ReferenceRegistry[] = [];
  try {
    const root = join(work, 'root');
    const storeRoot = join(root, 'images');
    const size = await makeImage(work, storeRoot);
    const env = { ...process.env, TSDOCK_ROOT: root, TSDOCK_CONFIG: join(work, 'config') };
    const regSkopeo = await startReferenceRegistry();
    regs.push(regSkopeo);
    const regTs = await startReferenceRegistry();
    regs.push(regTs);
    const src = `oci:${storeRoot}:docker.io/${LOCAL}`;
    const skopeoPush = timed('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      src,
      `docker://${regSkopeo.host}/bench/pp:v1`,
    ]);
    const tsPush = timed(
      process.execPath,
      [join(binDir, 'tspush.js'), '-q', LOCAL, `${regTs.host}/bench/pp:v1`],
      env,
    );
    const skopeoPull = timed('skopeo', [
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${regSkopeo.host}/bench/pp:v1`,
      `oci:${join(work, 'skopeo-pull')}:v1`,
    ]);
    const pullEnv = { ...env, TSDOCK_ROOT: join(work, 'pull-root') };
    const tsPull = timed(
      process.execPath,
      [join(binDir, 'tspull.js'), '-q', `${regTs.host}/bench/pp:v1`],
      pullEnv,
    );
    console.log(
      `push/pull of a ${mib} MiB single-layer image (${size} bytes) against the reference registry`,
    );
    console.log(line('push', size, skopeoPush, tsPush));
    console.log(line('pull', size, skopeoPull, tsPull));
  } finally {
    for (const r of regs) await r.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
