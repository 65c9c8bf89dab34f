// A two-platform busybox (linux/amd64 + linux/arm64) for multi-platform tests, offline after the
// first run: the arm64 busybox comes from Debian's archive (busybox-static_*_arm64.deb fetched
// with apt-get into a private apt state, so the host's dpkg architectures stay as they are, and
// unpacked with dpkg-deb), made into an image by make-busybox.sh --arch arm64, then joined with
// the host busybox image in one OCI layout whose `latest` is an image index. Cached under the
// test cache like the other base images.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Descriptor } from '../../shared/manifest.js';
import { MediaType, REF_NAME_ANNOTATION } from '../../shared/media-types.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import { importLayout, type ImportedImage } from '../../shared/store/layout-io.js';
import { cachedLayout, ensureBusyboxLayout, repoRoot, testCache } from './busybox-image.js';

const SCRIPT = join('fixtures', 'base-images', 'make-busybox.sh');

function sh(cmd: string, args: string[], timeoutMs = 300_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr ?? r.error}`);
  return r.stdout;
}

/** Debian's statically linked arm64 busybox (downloaded once into the test cache). */
export async function ensureArm64Busybox(): Promise<string> {
  const dir = join(testCache(), 'busybox-static-arm64');
  const bin = join(dir, 'root', 'bin', 'busybox');
  if (existsSync(bin)) return bin;
  const temp = `${dir}.tmp-${process.pid}`;
  await fs.rm(temp, { recursive: true, force: true });
  await fs.mkdir(join(temp, 'lists', 'partial'), { recursive: true });
  await fs.mkdir(join(temp, 'cache', 'archives', 'partial'), { recursive: true });
  const apt = [
    '-q',
    '-o',
    'APT::Architecture=arm64',
    '-o',
    'APT::Architectures::=arm64',
    '-o',
    `Dir::State::Lists=${join(temp, 'lists')}`,
    '-o',
    `Dir::Cache=${join(temp, 'cache')}`,
    '-o',
    'Dir::State::status=/dev/null',
  ];
  try {
    sh('apt-get', [...apt, 'update']);
    spawnSync('apt-get', [...apt, 'download', 'busybox-static'], { cwd: temp, timeout: 300_000 });
    const deb = (await fs.readdir(temp)).find((n) => /^busybox-static_.*_arm64\.deb$/.test(n));
    if (!deb) throw new Error('apt-get download busybox-static (arm64) gave no .deb');
    sh('dpkg-deb', ['-x', join(temp, deb), join(temp, 'root')]);
    await fs.rm(join(temp, 'lists'), { recursive: true, force: true });
    await fs.rm(join(temp, 'cache'), { recursive: true, force: true });
    await fs.rename(temp, dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await fs.rm(temp, { recursive: true, force: true });
  }
  return bin;
}

/** The OCI layout whose `latest` is an index of busybox for linux/amd64 and linux/arm64. */
export async function ensureBusyboxIndexLayout(): Promise<string> {
  const root = repoRoot();
  const arm64Bin = await ensureArm64Busybox();
  const key = createHash('sha256')
    .update(readFileSync(join(root, SCRIPT)))
    .update(readFileSync(arm64Bin))
    .digest('hex')
    .slice(0, 12);
  const amd64 = await ensureBusyboxLayout();
  const arm64 = await cachedLayout(join(testCache(root), `busybox-arm64-${key}`), (temp) => {
    const r = spawnSync(join(root, SCRIPT), [temp, 'latest', '--arch', 'arm64'], {
      encoding: 'utf8',
      env: { ...process.env, BUSYBOX: arm64Bin },
    });
    if (r.status !== 0) throw new Error(`make-busybox.sh --arch arm64 failed: ${r.stderr}`);
  });
  return cachedLayout(join(testCache(root), `busybox-index-${key}`), (temp) => {
    sh('cp', ['-r', amd64, temp]);
    sh('cp', ['-rn', `${join(arm64, 'blobs')}/.`, join(temp, 'blobs')]);
    const manifests = [amd64, arm64].map((layout, i): Descriptor => {
      const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
        manifests: Descriptor[];
      };
      const d = top.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === 'latest')!;
      return {
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
      };
    });
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }),
    );
    const hex = createHash('sha256').update(bytes).digest('hex');
    const blobs = join(temp, 'blobs', 'sha256');
    writeFileSync(join(blobs, hex), bytes);
    const top = {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MediaType.OciIndex,
          digest: `sha256:${hex}`,
          size: bytes.length,
          annotations: { [REF_NAME_ANNOTATION]: 'latest' },
        },
      ],
    };
    writeFileSync(join(temp, 'index.json'), JSON.stringify(top));
  });
}

/** Imports the two-platform busybox index into `store` as `ref`. */
export async function importBusyboxIndex(
  store: ContentStore,
  ref = 'busybox:latest',
): Promise<ImportedImage> {
  const [image] = await importLayout(store, await ensureBusyboxIndexLayout(), { refs: [ref] });
  return image!;
}

/** Pushes the two-platform busybox index (every platform) to `ref` on a plain-HTTP registry. */
export async function pushBusyboxIndex(ref: string): Promise<void> {
  const layout = await ensureBusyboxIndexLayout();
  sh('skopeo', [
    'copy',
    '-q',
    '--all',
    '--dest-tls-verify=false',
    `oci:${layout}:latest`,
    `docker://${ref}`,
  ]);
}
