// Pull: registry -> local store. Fetches the manifest (an index is stored too and the platform's
// manifest selected from it), downloads config and layers a few at a time (skipping blobs the
// store has), stores the manifest last, and tags it under the full normalised reference.
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../digest.js';
import { errorLine, TsdockError } from '../errors.js';
import { manifestReferences, parseManifest, type Descriptor, type Platform } from '../manifest.js';
import { currentPlatform, parsePlatform, selectManifest } from '../platform.js';
import { formatReference, parseReference } from '../reference.js';
import type { ContentStore } from '../store/content-store.js';
import { BlobSources } from './blob-sources.js';
import { RegistryClient } from './registry-client.js';
import { mirrorsFor } from './mirrors.js';
import {
  counter,
  DEFAULT_CONCURRENCY,
  noProgress,
  parallel,
  shortId,
  type TransferOptions,
  unique,
} from './transfer-common.js';

import { INDEX_DIGEST_ANNOTATION } from '../media-types.js';

/** Blobs from this size on go straight into the store's file (RegistryClient.downloadBlobToFile). */
const BULK_MIN = 16 << 20;
/** Annotation on a pulled image's tag: the digest of the index it was selected from. */
export { INDEX_DIGEST_ANNOTATION };

export interface PullOptions extends TransferOptions {
  /** `os/arch[/variant]` or a Platform; default: this machine's. */
  platform?: string | Platform;
}

export interface PullResult {
  /** The stored image manifest (as tagged). */
  descriptor: Descriptor;
  /** The digest the registry knows the reference by (the index's, for multi-arch images). */
  digest: Digest;
  /** The full normalised name it was tagged under, if pulled by tag. */
  name?: string;
  /** Blobs downloaded (not already in the store). */
  downloaded: number;
  /** The mirror URL or registry that served the pull. */
  servedBy?: string;
}

/** Pulls `ref` into `store`; returns the stored image manifest's descriptor. */
export async function pullImage(
  store: ContentStore,
  ref: string,
  opts: PullOptions = {},
): Promise<Descriptor> {
  return (await pull(store, ref, opts)).descriptor;
}

/**
 * Pulls `ref` into `store`: from each configured mirror of its registry in order (mirrors.ts),
 * then from the registry itself, as dockerd does; `servedBy` in the result says which answered.
 */
export async function pull(
  store: ContentStore,
  ref: string,
  opts: PullOptions = {},
): Promise<PullResult> {
  const r = parseReference(ref);
  if (opts.client) return await pullFrom(store, ref, opts.client, opts);
  for (const mirror of mirrorsFor(r.registry)) {
    const client = new RegistryClient({ registry: mirror.host, endpoint: mirror.url });
    try {
      return { ...(await pullFrom(store, ref, client, opts)), servedBy: mirror.url };
    } catch {
      // as dockerd: a mirror that fails (down, missing the image) is skipped
    }
  }
  const client = new RegistryClient({ registry: r.registry, insecure: opts.insecure });
  return { ...(await pullFrom(store, ref, client, opts)), servedBy: r.registry };
}

async function pullFrom(
  store: ContentStore,
  ref: string,
  client: RegistryClient,
  opts: PullOptions,
): Promise<PullResult> {
  const r = parseReference(ref);
  const repo = r.repository;
  const top = await client.getManifest(repo, r.digest ?? r.tag ?? 'latest');
  if (r.digest && top.digest !== r.digest) {
    throw new TsdockError(
      `registry returned ${top.digest} for ${ref}`,
      'the registry is misbehaving',
    );
  }
  let image = top;
  let parsed = parseManifest(top.bytes, top.mediaType);
  let indexDigest: Digest | undefined;
  if (parsed.kind === 'index') {
    await store.writeBlob(top.bytes, { digest: top.digest, size: top.bytes.length });
    indexDigest = top.digest;
    const want =
      typeof opts.platform === 'string'
        ? parsePlatform(opts.platform)
        : (opts.platform ?? currentPlatform());
    const chosen = selectManifest(parsed.manifest, want);
    image = await client.getManifest(repo, chosen.digest);
    parsed = parseManifest(image.bytes, image.mediaType);
    if (parsed.kind !== 'manifest') {
      throw new TsdockError(`${ref}: the index entry ${chosen.digest} is not an image manifest`);
    }
  }
  const config = parsed.manifest.config;
  const blobs = unique(manifestReferences(parsed));
  const progress = opts.progress ?? noProgress;
  const sources = await BlobSources.load(store.root);
  // Like docker, every layer (not the config) gets its progress line up front.
  const items = blobs.map((d) =>
    (d === config ? noProgress : progress).item(shortId(d.digest), 'Pulling fs layer'),
  );
  let downloaded = 0;
  await parallel(blobs, opts.concurrency ?? DEFAULT_CONCURRENCY, async (d, i) => {
    const isConfig = d === config;
    const item = items[i]!;
    try {
      sources.add(d.digest, r.registry, repo);
      if ((await store.statBlob(d.digest)) === d.size) return item.done('Already exists');
      if (d.size >= BULK_MIN) {
        // large: straight into the store's file, verified, one reused socket buffer
        let got = 0;
        let last = 0;
        await store.writeBlobFrom({ digest: d.digest, size: d.size }, (fd) =>
          client.downloadBlobToFile(repo, d.digest, fd, {
            size: d.size,
            onWritten: (n) => {
              got += n;
              if (isConfig || !opts.progress || (Date.now() - last < 100 && got < d.size)) return;
              last = Date.now();
              item.update(got, d.size);
            },
          }),
        );
        downloaded++;
        return item.done('Pull complete');
      }
      const body = await client.getBlob(repo, d.digest, { size: d.size, verify: false });
      const writer = await store.blobWriter();
      try {
        if (opts.progress && !isConfig)
          await pipeline(
            body,
            counter((n) => item.update(n, d.size)),
            writer.stream,
          );
        else await pipeline(body, writer.stream);
        await writer.commit({ digest: d.digest, size: d.size });
      } catch (err) {
        await writer.abort();
        throw err;
      }
      downloaded++;
      item.done('Pull complete');
    } catch (err) {
      item.fail(errorLine(err));
      throw err;
    }
  });
  await store.writeBlob(image.bytes, { digest: image.digest, size: image.bytes.length });
  const descriptor: Descriptor = {
    mediaType: parsed.mediaType,
    digest: image.digest,
    size: image.bytes.length,
    ...(indexDigest ? { annotations: { [INDEX_DIGEST_ANNOTATION]: indexDigest } } : {}),
  };
  let name: string | undefined;
  if (r.tag) {
    name = formatReference({ registry: r.registry, repository: repo, tag: r.tag });
    await store.tag(name, descriptor);
  }
  await sources.save().catch(() => undefined);
  return { descriptor, digest: top.digest, name, downloaded };
}
