// Writing a new layer into the content store: from explicit entries (COPY/ADD) or from an
// overlay upper directory (RUN), streamed through the deterministic tar writer straight into a
// verified blob. Returns what the image and the cache index need.
import { MediaType } from '../../shared/media-types.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import type { LayerEntry, LayerResult } from '../../shared/tar/layer-writer.js';

import type { LayerRef } from '../cache/build-cache.js';
import type { Writable } from 'node:stream';

/** The tar writer is loaded on the first layer written (cache hits never need it). */
const writers = () => import('../../shared/tar/layer-writer.js');

export interface LayerOptions {
  sourceDateEpoch?: number;
  compression?: 'gzip' | 'none';
}

async function toStore(
  store: ContentStore,
  write: (out: Writable) => Promise<LayerResult>,
): Promise<LayerRef> {
  const w = await store.blobWriter();
  try {
    const res = await write(w.stream);
    const done = await w.commit({ digest: res.digest, size: res.size });
    const mediaType = res.mediaType || MediaType.OciLayerGzip;
    return { digest: done.digest, size: done.size, mediaType, diffId: res.diffId };
  } catch (e) {
    await w.abort();
    throw e;
  }
}

export function layerFromEntries(
  store: ContentStore,
  entries: LayerEntry[],
  opts: LayerOptions,
): Promise<LayerRef> {
  return toStore(store, async (out) =>
    (await writers()).writeLayerFromEntries(entries, out, {
      sourceDateEpoch: opts.sourceDateEpoch,
      compression: opts.compression,
      xattrs: false,
    }),
  );
}

export function layerFromUpper(
  store: ContentStore,
  upper: string,
  lowerDirs: string[],
  filter: (rel: string) => boolean,
  opts: LayerOptions,
): Promise<LayerRef> {
  return toStore(store, async (out) =>
    (await writers()).writeLayerFromOverlayUpper(upper, out, {
      lowerDirs: [...lowerDirs].reverse(),
      filter,
      sourceDateEpoch: opts.sourceDateEpoch,
      compression: opts.compression,
    }),
  );
}
