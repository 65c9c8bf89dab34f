// What the proxy has cached, and eviction. The listing walks the metadata of proxied
// repositories: manifests (size, tags) and linked blobs (size), each with its last use (hits
// and fetches of every process, saved in the storage by ./last-use.ts so they survive a
// restart; before any, when it was stored). Eviction, least recently used first, down to
// `maxsize` bytes of blobs (or everything unused for `age` seconds): the blob is unlinked from its proxied repository and the cached manifests there
// that reference it are removed, so the next GC frees the bytes (shared blobs that anything else
// references stay). Proxied content heals itself: an evicted item is fetched again when asked for.
import { LastUse } from './last-use.js';
import { blobDataPath } from '../paths.js';
import type { Registry } from '../services/registry.js';
import type { ProxyRoutes } from './routes.js';

export interface CachedItem {
  repo: string;
  digest: string;
  kind: 'manifest' | 'blob';
  size: number;
  /** ISO time of the last use seen (or when it was stored). */
  lastUse: string;
  tags?: string[];
}

export interface EvictionReport {
  evicted: Array<{ repo: string; digest: string; size: number }>;
  bytes: number;
  manifestsRemoved: number;
}

export class CacheAdmin {
  private readonly uses: LastUse;

  constructor(
    private readonly registry: Registry,
    private readonly routes: ProxyRoutes,
  ) {
    this.uses = new LastUse(registry.driver);
  }

  touch(repo: string, digest: string): void {
    this.uses.touch(repo, digest);
  }

  /** Saves the last uses seen since the last save (shutdown; otherwise every few seconds). */
  async flush(): Promise<void> {
    await this.uses.flush();
  }

  async list(): Promise<CachedItem[]> {
    const { meta } = this.registry;
    const tags = new Map<string, string[]>();
    for await (const t of meta.allTags()) {
      if (!this.routes.resolve(t.repo)) continue;
      const key = `${t.repo}@${t.digest}`;
      tags.set(key, [...(tags.get(key) ?? []), t.tag]);
    }
    const items: CachedItem[] = [];
    const manifests = new Set<string>();
    for await (const { repo, digest, record } of meta.allManifests()) {
      if (!this.routes.resolve(repo)) continue;
      const t = tags.get(`${repo}@${digest}`);
      manifests.add(`${repo}@${digest}`);
      items.push({
        repo,
        digest,
        kind: 'manifest',
        size: record.size,
        lastUse: await this.lastUse(repo, digest),
        ...(t ? { tags: t.sort() } : {}),
      });
    }
    for await (const { repo, digest } of meta.allLinks()) {
      if (!this.routes.resolve(repo)) continue;
      if (manifests.has(`${repo}@${digest}`)) continue;
      const size = await this.registry.blobs.size(digest);
      if (size === undefined) continue;
      items.push({ repo, digest, kind: 'blob', size, lastUse: await this.lastUse(repo, digest) });
    }
    return items.sort((a, b) => a.lastUse.localeCompare(b.lastUse));
  }

  /** Evicts least recently used blobs until at most `maxsize` bytes remain, and any unused for `age` s. */
  async evict(opts: { maxsize?: number; age?: number }): Promise<EvictionReport> {
    const blobs = (await this.list()).filter((i) => i.kind === 'blob');
    let total = blobs.reduce((n, b) => n + b.size, 0);
    const cutoff = opts.age !== undefined ? Date.now() - opts.age * 1000 : undefined;
    const report: EvictionReport = { evicted: [], bytes: 0, manifestsRemoved: 0 };
    for (const b of blobs) {
      const old = cutoff !== undefined && Date.parse(b.lastUse) < cutoff;
      const over = opts.maxsize !== undefined && total > opts.maxsize;
      if (!old && !over) continue;
      report.manifestsRemoved += await this.evictBlob(b.repo, b.digest);
      report.evicted.push({ repo: b.repo, digest: b.digest, size: b.size });
      report.bytes += b.size;
      total -= b.size;
    }
    return report;
  }

  /** Unlinks one blob from a proxied repository and drops the cached manifests needing it. */
  private async evictBlob(repo: string, digest: string): Promise<number> {
    const { registry } = this;
    let removed = 0;
    for await (const m of registry.meta.allManifests()) {
      if (m.repo !== repo || !m.record.refs.includes(digest)) continue;
      await registry.manifests.delete(repo, m.digest).catch(() => {});
      removed++;
    }
    await registry.deleteBlob(repo, digest).catch(() => {});
    this.uses.forget(repo, digest);
    return removed;
  }

  private async lastUse(repo: string, digest: string): Promise<string> {
    const used = await this.uses.get(repo, digest);
    if (used !== undefined) return new Date(used).toISOString();
    try {
      return (await this.registry.driver.stat(blobDataPath(digest))).modTime.toISOString();
    } catch {
      return new Date(0).toISOString();
    }
  }
}
