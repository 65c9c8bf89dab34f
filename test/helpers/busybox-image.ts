// The offline busybox base image for tests and benchmarks: built once per machine (or CI run) by
// fixtures/base-images/make-busybox.sh into a cached OCI layout, then imported where needed.
// Cache: $TSDOCK_TEST_CACHE, else <repo>/.work/test-cache; keyed by the script and the busybox
// binary, built into a temp dir and renamed into place so parallel test files share one build.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContentStore } from '../../shared/store/content-store.js';
import { importLayout, type ImportedImage } from '../../shared/store/layout-io.js';

const SCRIPT = join('fixtures', 'base-images', 'make-busybox.sh');
const BUSYBOX = process.env['BUSYBOX'] ?? '/bin/busybox';

/** The repository root (where fixtures/ is), found from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, SCRIPT))) {
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`cannot find ${SCRIPT} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** The cached busybox OCI layout (tag `latest` in its index.json), built on first use. */
export async function ensureBusyboxLayout(): Promise<string> {
  const root = repoRoot();
  const script = join(root, SCRIPT);
  const bb = statSync(BUSYBOX);
  const key = createHash('sha256')
    .update(readFileSync(script))
    .update(`${bb.size}:${bb.mtimeMs}`)
    .digest('hex')
    .slice(0, 12);
  const layout = join(testCache(root), `busybox-${key}`);
  return cachedLayout(layout, (temp) => {
    const res = spawnSync(script, [temp, 'latest'], {
      encoding: 'utf8',
      env: { ...process.env, BUSYBOX },
    });
    if (res.status !== 0) throw new Error(`make-busybox.sh failed (${res.status}): ${res.stderr}`);
  });
}

/** Where built test images are kept between runs. */
export function testCache(root = repoRoot()): string {
  return process.env['TSDOCK_TEST_CACHE'] ?? join(root, '.work', 'test-cache');
}

/**
 * `layout` as it is when already built; else `make(temp)` builds it in a temp dir that is then
 * renamed into place, so parallel test files share one build.
 */
export async function cachedLayout(layout: string, make: (temp: string) => void): Promise<string> {
  if (existsSync(join(layout, 'index.json'))) return layout;
  await fs.mkdir(dirname(layout), { recursive: true });
  const temp = `${layout}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    make(temp);
    await fs.rename(temp, layout).catch((err: NodeJS.ErrnoException) => {
      // Another test process finished first: use its build.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await fs.rm(temp, { recursive: true, force: true });
  }
  return layout;
}

/** Imports the busybox image into `store` as `ref`. */
export async function importBusybox(
  store: ContentStore,
  ref = 'busybox:latest',
): Promise<ImportedImage> {
  const [image] = await importLayout(store, await ensureBusyboxLayout(), { refs: [ref] });
  return image!;
}
