// Push: local store -> registry. Uploads config and layers a few at a time (skipping blobs the
// registry has, cross-repo mounting those it holds in another repository we know of), then the
// manifests bottom-up: an index's child manifests by digest, the top one under the tag.
import type { Digest } from '../digest.js';
import { errorLine, NotFoundError } from '../errors.js';
import { manifestReferences, parseManifest, type Descriptor } from '../manifest.js';
import { parseReference } from '../reference.js';
import type { ContentStore } from '../store/content-store.js';
import { BlobSources } from './blob-sources.js';
import { RegistryClient } from './registry-client.js';
import {
  counter,
  DEFAULT_CONCURRENCY,
  noProgress,
  parallel,
  shortId,
  type ProgressItem,
  type TransferOptions,
  unique,
} from './transfer-common.js';

export interface PushOptions extends TransferOptions {
  /** Push under another name than the local one (`tspush local remote`). */
  target?: string;
}

export interface PushResult {
  digest: Digest;
  size: number;
  /** The tag (or digest) the top manifest was put under. */
  ref: string;
  /** Blobs uploaded / mounted / already present. */
  uploaded: number;
  mounted: number;
  existing: number;
}

/** Pushes the stored image `ref` (to `opts.target` if given); returns the manifest digest. */
export async function pushImage(
  store: ContentStore,
  ref: string,
  opts: PushOptions = {},
): Promise<Digest> {
  return (await push(store, ref, opts)).digest;
}

export async function push(
  store: ContentStore,
  ref: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const desc = await store.resolve(ref);
  const target = parseReference(opts.target ?? ref);
  const client =
    opts.client ?? new RegistryClient({ registry: target.registry, insecure: opts.insecure });
  await client.declareScope(target.repository, ['pull', 'push']);
  const ctx: PushContext = {
    store,
    client,
    registry: target.registry,
    repo: target.repository,
    sources: await BlobSources.load(store.root),
    opts,
    counts: { uploaded: 0, mounted: 0, existing: 0 },
  };
  const tagRef = target.tag ?? desc.digest;
  await pushManifest(ctx, desc, tagRef);
  await ctx.sources.save().catch(() => undefined);
  return { digest: desc.digest, size: desc.size, ref: tagRef, ...ctx.counts };
}

interface PushContext {
  store: ContentStore;
  client: RegistryClient;
  registry: string;
  repo: string;
  sources: BlobSources;
  opts: PushOptions;
  counts: { uploaded: number; mounted: number; existing: number };
}

async function pushManifest(ctx: PushContext, desc: Descriptor, ref: string): Promise<void> {
  const bytes = await ctx.store.readBlob(desc.digest);
  const parsed = parseManifest(bytes, desc.mediaType);
  if (parsed.kind === 'index') {
    for (const child of parsed.manifest.manifests) {
      if (await ctx.store.hasBlob(child.digest)) await pushManifest(ctx, child, child.digest);
      else if (!(await ctx.client.headManifest(ctx.repo, child.digest))) {
        throw new NotFoundError(
          `manifest ${child.digest} of the index is neither stored locally nor in ${ctx.registry}/${ctx.repo}`,
          'pull or build every platform of the index before pushing it',
        );
      }
    }
  } else {
    const config = parsed.manifest.config;
    const blobs = unique(manifestReferences(parsed));
    // Like docker, every layer (not the config) gets its progress line up front.
    const progress = ctx.opts.progress ?? noProgress;
    const items = blobs.map((d) =>
      (d === config ? noProgress : progress).item(shortId(d.digest), 'Pushing'),
    );
    await parallel(blobs, ctx.opts.concurrency ?? DEFAULT_CONCURRENCY, (d, i) =>
      pushBlob(ctx, d, items[i]!),
    );
  }
  await ctx.client.putManifest(ctx.repo, ref, bytes, parsed.mediaType);
}

async function pushBlob(ctx: PushContext, d: Descriptor, item: ProgressItem): Promise<void> {
  try {
    const size = await ctx.store.statBlob(d.digest);
    if (size === undefined) {
      throw new NotFoundError(
        `blob ${d.digest} is missing from the local store`,
        'pull or build the image again',
      );
    }
    const result = await ctx.client.uploadBlob(
      ctx.repo,
      (start) => {
        const blob = ctx.store.openBlob(d.digest, { start });
        if (!ctx.opts.progress) return blob;
        const c = counter((n) => item.update(n, size), start);
        blob.on('error', (err) => c.destroy(err));
        return blob.pipe(c);
      },
      { digest: d.digest, size, mountFrom: ctx.sources.repositories(d.digest, ctx.registry) },
    );
    ctx.sources.add(d.digest, ctx.registry, ctx.repo);
    if (result === 'exists') {
      ctx.counts.existing++;
      item.done('Layer already exists');
    } else if (result === 'mounted') {
      ctx.counts.mounted++;
      item.done('Mounted from another repository');
    } else {
      ctx.counts.uploaded++;
      item.done('Pushed');
    }
  } catch (err) {
    item.fail(errorLine(err));
    throw err;
  }
}
