// Proxied manifests. By digest: served from the cache forever (content-addressed), fetched once.
// By tag: served from the cache while its TTL holds; after it, revalidated with the upstream
// (HEAD, compare digests; a changed tag is fetched again); when the upstream cannot be asked,
// the cached copy is served stale (the handler says so in a header, this module in the log).
// Cached manifests are stored like pushed ones (blob + metadata record + tag), held against GC.
import type { Logger } from 'pino';
import { parseManifest } from '../../shared/manifest.js';
import { RegistryError } from '../errors.js';
import { withReferencesHeld } from '../gc-holds.js';
import { Lru } from '../lru.js';
import type { Registry } from '../services/registry.js';
import { isDigestReference, recordOf, type StoredManifest } from '../services/manifests.js';
import type { CacheResult, ProxyMetrics } from './metrics.js';
import type { ProxyTarget } from './routes.js';
import type { UpstreamManifest } from './upstream.js';
import { upstreamCall } from './upstream-call.js';

export interface ProxiedManifest {
  manifest: StoredManifest;
  result: CacheResult;
}

export class ManifestCache {
  /** `${repo}:${tag}` -> when the tag was last confirmed with the upstream (ms). */
  private readonly validated = new Lru<string, number>(100_000);

  constructor(
    private readonly registry: Registry,
    private readonly metrics: ProxyMetrics,
    private readonly logger: Logger,
  ) {}

  async get(target: ProxyTarget, reference: string): Promise<ProxiedManifest> {
    const found = isDigestReference(reference)
      ? await this.byDigest(target, reference)
      : await this.byTag(target, reference);
    this.metrics.requests.inc({
      upstream: target.route.upstream.url,
      kind: 'manifest',
      result: found.result,
    });
    return found;
  }

  private async byDigest(target: ProxyTarget, digest: string): Promise<ProxiedManifest> {
    const local = await this.local(target.repo, digest);
    if (local) return { manifest: local, result: 'hit' };
    const fetched = await this.upstream(target, digest, () =>
      target.route.upstream.manifest(target.remoteRepo, digest),
    );
    return { manifest: await this.store(target.repo, fetched), result: 'miss' };
  }

  private async byTag(target: ProxyTarget, tag: string): Promise<ProxiedManifest> {
    const { repo, remoteRepo, route } = target;
    const key = `${repo}:${tag}`;
    const digest = await this.registry.meta.getTag(repo, tag);
    const local = digest === undefined ? undefined : await this.local(repo, digest);
    const checked = this.validated.get(key);
    if (local && checked !== undefined && Date.now() - checked < route.config.ttl * 1000)
      return { manifest: local, result: 'hit' };
    try {
      if (local) {
        const current = await this.upstream(target, tag, () =>
          route.upstream.manifestDigest(remoteRepo, tag),
        );
        if (current === local.digest) {
          this.validated.set(key, Date.now());
          return { manifest: local, result: 'revalidated' };
        }
      }
      const fetched = await this.upstream(target, tag, () =>
        route.upstream.manifest(remoteRepo, tag),
      );
      const manifest = await this.store(repo, fetched, tag);
      this.validated.set(key, Date.now());
      return { manifest, result: 'miss' };
    } catch (err) {
      if (!local || !(err instanceof RegistryError) || err.code !== 'UNAVAILABLE') throw err;
      this.logger.warn(
        { repo, tag, digest: local.digest, upstream: route.upstream.url, err: err.message },
        'proxy: upstream unavailable, serving the cached manifest stale',
      );
      return { manifest: local, result: 'stale' };
    }
  }

  private upstream<T>(target: ProxyTarget, reference: string, call: () => Promise<T>): Promise<T> {
    return upstreamCall(this.metrics, target, { kind: 'manifest', reference }, call);
  }

  /** The cached manifest, or undefined. */
  private async local(repo: string, digest: string): Promise<StoredManifest | undefined> {
    const record = await this.registry.meta.getManifest(repo, digest);
    if (!record) return undefined;
    const bytes = await this.registry.blobs.get(digest).catch(() => undefined);
    if (!bytes) return undefined;
    return {
      digest,
      mediaType: record.mediaType,
      bytes,
      subject: record.subject,
      refs: record.refs,
    };
  }

  /** Stores an upstream manifest (and its tag) like a pushed one, without requiring its blobs. */
  private async store(repo: string, m: UpstreamManifest, tag?: string): Promise<StoredManifest> {
    let record;
    try {
      record = recordOf(parseManifest(m.bytes, m.mediaType), m.bytes.length);
    } catch (err) {
      throw new RegistryError(
        'MANIFEST_INVALID',
        `the upstream sent a manifest this registry cannot serve: ${(err as Error).message}`,
        undefined,
        { status: 502 },
      );
    }
    const { meta, blobs } = this.registry;
    await withReferencesHeld(meta, [m.digest], async (commit) => {
      await blobs.put(m.digest, m.bytes);
      commit();
      await meta.putManifest(repo, m.digest, record, tag);
    });
    return {
      digest: m.digest,
      mediaType: record.mediaType,
      bytes: m.bytes,
      subject: record.subject,
      refs: record.refs,
    };
  }
}
