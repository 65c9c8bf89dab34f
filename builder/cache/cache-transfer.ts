// --cache-to / --cache-from a registry reference: the cache records a build used or made
// (cache key -> layer) travel as an OCI artifact: a manifest whose config blob lists the records
// and whose layers are the cached layers, pushed and pulled with the regular client. Imported
// records land in the local cache index and their layers in the store, so the next build hits.
import { MediaType } from '../../shared/media-types.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import type { BuildCache, CacheRecord } from './build-cache.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.tsdock.buildcache.v1';
export const CACHE_CONFIG_TYPE = 'application/vnd.tsdock.buildcache.config.v1+json';

interface CacheDocument {
  records: Omit<CacheRecord, 'files'>[];
}

/** `type=registry,ref=R` (buildx syntax) or a bare reference. */
export function parseCacheRef(spec: string): string {
  const ref = /(?:^|,)ref=([^,]+)/.exec(spec)?.[1];
  return ref ?? spec;
}

export async function exportCache(
  store: ContentStore,
  records: CacheRecord[],
  ref: string,
): Promise<void> {
  const unique = new Map(
    records.map((r) => [r.key, { key: r.key, layer: r.layer, inputs: r.inputs }]),
  );
  const doc: CacheDocument = { records: [...unique.values()] };
  const config = await store.putJson(doc, CACHE_CONFIG_TYPE);
  const layers = new Map<string, { mediaType: string; digest: string; size: number }>();
  for (const r of unique.values())
    if (r.layer)
      layers.set(r.layer.digest, {
        mediaType: r.layer.mediaType,
        digest: r.layer.digest,
        size: r.layer.size,
      });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: { mediaType: CACHE_CONFIG_TYPE, digest: config.digest, size: config.size },
    layers: [...layers.values()],
  };
  const desc = await store.putJson(manifest, MediaType.OciManifest);
  const { pushImage } = await import('../../shared/client/transfer.js');
  await store.tag(ref, desc);
  try {
    await pushImage(store, ref);
  } finally {
    await store.untag(ref).catch(() => undefined);
  }
}

/** Imports a cache artifact; returns how many records were added (0 when it does not exist). */
export async function importCache(
  store: ContentStore,
  cache: BuildCache,
  ref: string,
): Promise<number> {
  const { pullImage } = await import('../../shared/client/transfer.js');
  const desc = await pullImage(store, ref);
  try {
    const manifest = JSON.parse((await store.readBlob(desc.digest)).toString('utf8')) as {
      config: { digest: string; mediaType: string };
    };
    if (manifest.config.mediaType !== CACHE_CONFIG_TYPE) return 0;
    const doc = JSON.parse(
      (await store.readBlob(manifest.config.digest)).toString('utf8'),
    ) as CacheDocument;
    let added = 0;
    for (const r of doc.records) {
      if (await cache.get(r.key)) continue;
      await cache.put(r);
      added++;
    }
    return added;
  } finally {
    await store.untag(ref).catch(() => undefined);
  }
}
