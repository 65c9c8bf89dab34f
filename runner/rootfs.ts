// Image -> root filesystem: each layer is unpacked once (in parallel, whiteouts kept as overlay
// whiteouts) into a cache shared by every container and build; a container's rootfs is an
// overlay of those layer directories plus its own upper/work directories.
//
//   $TSDOCK_ROOT/layers/<diffId hex>/        unpacked layer (complete once renamed into place)
//   $TSDOCK_ROOT/layers/.tmp-<hex>-p<pid>-<rand>/  extraction in progress (removed on failure,
//                                             or by the next ensureLayers once pid is gone)
//   <run dir>/l/<n> -> layer dir              short links: the overlay option string stays
//                                             under the kernel's page-size limit
//   <run dir>/rootfs/                         the mount point
//   <container dir>/{upper,work}/             (the run dir may be the container dir, or tmpfs)
//
// The overlay itself is mounted by the native helper inside the container's private mount
// namespace (relative lowerdirs from a chdir into the container dir), so it disappears with the
// container's last process and never leaks onto the host.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageBudget } from '../shared/tar/unpack-limits.js';

/** One layer to unpack: its diffId names the cache entry; open() yields the compressed blob. */
export interface LayerSource {
  diffId: string;
  mediaType: string;
  /** the blob as stored (gzip or plain) */
  open(): Promise<Readable>;
}

/** Unpacks a layer blob (gzip or plain) into dest with overlay whiteouts (the tar helper's). */
export type Extractor = (
  tar: Readable,
  dest: string,
  opts: { label: string; imageBudget: ImageBudget },
) => Promise<void>;

async function defaultExtractor(
  blob: Readable,
  dest: string,
  opts: { label: string; imageBudget: ImageBudget },
): Promise<void> {
  const { extractLayer } = await import('../shared/tar/extract.js');
  await extractLayer(blob, dest, { whiteouts: 'overlay', ...opts });
}

/** Unpacks every layer not already cached (in parallel); returns their dirs, bottom first. */
export async function ensureLayers(
  layersDir: string,
  layers: LayerSource[],
  extract: Extractor = defaultExtractor,
): Promise<string[]> {
  // loaded here, not at the top: the run path with cached layers never needs them
  const { mkdir, rename, rm, stat } = await import('node:fs/promises');
  const { randomBytes } = await import('node:crypto');
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );
  const { secureStateDirs } = await import('../shared/state-dirs.js');
  secureStateDirs(); // layers/ is 0700: a layer's setuid files and device nodes stay ours
  await mkdir(layersDir, { recursive: true, mode: 0o700 });
  await sweepAbandonedExtractions(layersDir);
  const { ImageBudget } = await import('../shared/tar/unpack-limits.js');
  const imageBudget = new ImageBudget();
  // all or nothing: every missing layer is unpacked beside the cache, and only when all of them
  // succeeded (within the per-image limit) are they renamed into place
  const results = await Promise.allSettled(
    layers.map(async (layer) => {
      const hex = layer.diffId.replace(/^sha256:/, '');
      const dir = join(layersDir, hex);
      if (await exists(dir)) return { dir };
      const tmp = join(layersDir, `.tmp-${hex}-p${process.pid}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp, { recursive: true });
      try {
        // gzip/plain auto-detected by the extractor; the size limits are per layer and per image
        await extract(await layer.open(), tmp, { label: `layer ${layer.diffId}`, imageBudget });
      } catch (err) {
        imageBudget.stopped = true; // the other layers of this image stop at their next entry
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return { dir, tmp };
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (failed) {
    await Promise.all(done.map((d) => d.tmp && rm(d.tmp, { recursive: true, force: true })));
    throw failed.reason;
  }
  for (const { dir, tmp } of done) {
    if (!tmp) continue;
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // another process finished the same layer first: theirs is as good as ours
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(tmp, { recursive: true, force: true });
    });
  }
  return done.map((d) => d.dir);
}

/** Removes `.tmp-<hex>-p<pid>-<rand>` extractions whose process is gone (a kill -9 mid-way). */
async function sweepAbandonedExtractions(layersDir: string): Promise<void> {
  const { readdir, rm } = await import('node:fs/promises');
  const { processIdentity } = await import('./container-leftovers.js');
  for (const name of await readdir(layersDir).catch(() => [] as string[])) {
    const m = /^\.tmp-[0-9a-f]+-p(\d+)-[0-9a-f]+$/.exec(name);
    if (m && !processIdentity(Number(m[1]))) {
      await rm(join(layersDir, name), { recursive: true, force: true });
    }
  }
}

/** The overlay layout for one container (what the helper's --overlay needs). */
export interface OverlayPlan {
  base: string;
  lowers: string[];
  upper: string;
  work: string;
  rootfs: string;
}

/**
 * Creates `<dir>/{upper,work}`, `<runDir>/{l,rootfs}` and the short lowerdir links (top layer
 * first). runDir defaults to dir; lowers are relative to `base` (= runDir).
 */
export function prepareOverlay(dir: string, layerDirs: string[], runDir = dir): OverlayPlan {
  for (const d of ['upper', 'work']) mkdirSync(join(dir, d), { recursive: true });
  for (const d of ['l', 'rootfs']) mkdirSync(join(runDir, d), { recursive: true });
  const dirs = layerDirs.length > 0 ? layerDirs : [join(runDir, 'empty')];
  if (layerDirs.length === 0) mkdirSync(dirs[0]!, { recursive: true });
  dirs.forEach((layer, i) => {
    try {
      symlinkSync(layer, join(runDir, 'l', String(i)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  });
  const lowers = dirs.map((_, i) => `l/${i}`).reverse();
  const same = runDir === dir;
  return {
    base: runDir,
    lowers,
    upper: same ? 'upper' : join(dir, 'upper'),
    work: same ? 'work' : join(dir, 'work'),
    rootfs: join(runDir, 'rootfs'),
  };
}
