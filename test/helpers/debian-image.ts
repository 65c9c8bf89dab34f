// A minimal Debian base image for tests that need a real distribution (apt-get in RUN):
// fixtures/base-images/make-debian.sh (debootstrap --variant=minbase from Debian's archive) into
// an OCI layout, made once and cached by suite and script under $TSDOCK_TEST_CACHE (else
// <repo>/.work/test-cache), built in a temp dir and renamed into place, so CI pays once.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore } from '../../shared/store/content-store.js';
import { importLayout, type ImportedImage } from '../../shared/store/layout-io.js';
import { cachedLayout, repoRoot, testCache } from './busybox-image.js';

const SCRIPT = join('fixtures', 'base-images', 'make-debian.sh');

/** The cached Debian layout of `suite` (tagged `suite`), debootstrapped on first use. */
export async function ensureDebianLayout(suite = 'bookworm'): Promise<string> {
  const root = repoRoot();
  const script = join(root, SCRIPT);
  const key = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  return cachedLayout(join(testCache(root), `debian-${suite}-${key}`), (temp) => {
    const res = spawnSync(script, [temp, suite], { encoding: 'utf8', timeout: 15 * 60_000 });
    if (res.status !== 0) throw new Error(`make-debian.sh failed (${res.status}): ${res.stderr}`);
  });
}

/** Imports the Debian image into `store` as `ref`. */
export async function importDebian(
  store: ContentStore,
  ref: string,
  suite = 'bookworm',
): Promise<ImportedImage> {
  const layout = await ensureDebianLayout(suite);
  const [image] = await importLayout(store, layout, { refs: [ref] });
  return image!;
}
