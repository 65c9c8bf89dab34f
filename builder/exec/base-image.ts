// Base images and `COPY --from=<image>`: resolved in the local store (pulled when missing),
// the platform's manifest picked from an index, and the config + layers returned. Also unpacks
// layer lists (shared cache with the runner) and builds merged read-only views for COPY --from.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { NotFoundError } from '../../shared/errors.js';
import { parseManifest, type Descriptor } from '../../shared/manifest.js';
import { selectManifest } from '../../shared/platform.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import { ensureLayers } from '../../runner/executor.js';
import type { LayerRef } from '../cache/build-cache.js';
import type { OciImageConfig } from '../image/image-config.js';
import type { Platform } from '../plan/build-args.js';
import { trackTemp } from './interrupt.js';
import { pulledIndexEntry } from '../../shared/client/pulled-platform.js';

export interface BaseImage {
  manifestDigest: string;
  config: OciImageConfig;
  layers: LayerRef[];
}

export async function loadBaseImage(
  store: ContentStore,
  ref: string,
  platform: Platform,
): Promise<BaseImage> {
  let desc: Descriptor;
  try {
    desc = await store.resolve(ref);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    // imported lazily so a local-only build does not load the client
    const { pullImage } = await import('../../shared/client/transfer.js');
    await pullImage(store, ref, { platform });
    desc = await store.resolve(ref);
  }
  let parsed = parseManifest(await store.readBlob(desc.digest), desc.mediaType);
  let digest: string = desc.digest;
  const other = parsed.kind === 'manifest' && (await pulledIndexEntry(store, ref, desc, platform));
  if (other) {
    parsed = parseManifest(await store.readBlob(other.digest), other.mediaType);
    digest = other.digest;
  }
  if (parsed.kind === 'index') {
    const pick = selectManifest(parsed.manifest, platform);
    parsed = parseManifest(await store.readBlob(pick.digest), pick.mediaType);
    digest = pick.digest;
  }
  if (parsed.kind !== 'manifest') throw new NotFoundError(`${ref}: nested index`);
  const m = parsed.manifest;
  const config = JSON.parse(
    (await store.readBlob(m.config.digest)).toString('utf8'),
  ) as OciImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers = m.layers.map((l, i) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    diffId: diffIds[i] ?? l.digest,
  }));
  return { manifestDigest: digest, config, layers };
}

/** Unpacks (once, cached) each layer; returns their directories bottom first. */
export function unpackLayers(
  store: ContentStore,
  layersDir: string,
  layers: LayerRef[],
): Promise<string[]> {
  return ensureLayers(
    layersDir,
    layers.map((l) => ({
      diffId: l.diffId,
      mediaType: l.mediaType,
      open: async (): Promise<Readable> => store.openBlob(l.digest),
    })),
  );
}

/**
 * A merged copy of an image's filesystem (whiteouts applied), for COPY --from and RUN --mount
 * from=; within the limits a base image is unpacked with (per layer and per image, see
 * shared/tar/unpack-limits.ts). Nothing is left of it when a layer is refused.
 */
export async function mergedView(
  store: ContentStore,
  tmpDir: string,
  layers: LayerRef[],
): Promise<string> {
  const dir = trackTemp(await mkdtemp(join(tmpDir, 'from-')));
  const { extractLayer } = await import('../../shared/tar/extract.js');
  const { ImageBudget } = await import('../../shared/tar/unpack-limits.js');
  const imageBudget = new ImageBudget();
  try {
    for (const l of layers) {
      const label = `layer ${l.diffId}`;
      await extractLayer(store.openBlob(l.digest), dir, { whiteouts: 'apply', imageBudget, label });
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}
