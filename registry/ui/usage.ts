// Storage use per repository and per namespace, for the console's repositories page and the
// admin storage chart. One pass over the metadata (every manifest and tag): a repository's
// bytes are the distinct blobs its manifests are and reference (config, layers, child
// manifests), each counted once; a blob held by several repositories is "shared" and counted
// once in the registry's total. Last push is when the newest manifest blob of the repository
// was written. Blob sizes and times are immutable, so they are cached by digest; the whole
// result is cached for a few seconds (concurrent callers share one computation), and pages
// that allow it get the last result at once while the next is computed.
import { Lru } from '../lru.js';
import { blobDataPath } from '../paths.js';
import type { Registry } from '../services/registry.js';

export interface RepositoryUsage {
  name: string;
  /** Distinct bytes the repository holds (shared ones included). */
  bytes: number;
  /** Of `bytes`, those also held by another repository. */
  sharedBytes: number;
  manifests: number;
  tags: number;
  /** ISO time of the newest manifest written, when known. */
  lastPush?: string;
}

export interface NamespaceUsage {
  /** The first path component (`team-a` of `team-a/app`), or `` for top-level repositories. */
  name: string;
  bytes: number;
  /** Of `bytes`, those also held by a repository outside the namespace. */
  sharedBytes: number;
  repositories: number;
}

export interface StorageUsage {
  computedAt: string;
  /** Every referenced blob counted once. */
  totalBytes: number;
  /** Bytes of blobs held by more than one repository (counted once). */
  sharedBytes: number;
  repositories: RepositoryUsage[];
  namespaces: NamespaceUsage[];
}

interface BlobFacts {
  size: number;
  mtime: number;
}

/** A result this recent is served as it is. */
const MAX_AGE_MS = 5_000;
/** Up to this old, a caller that allows it gets the last result while a new one is computed. */
const STALE_MS = 5 * 60_000;

export class UsageIndex {
  private readonly facts = new Lru<string, BlobFacts>(200_000);
  private running: { at: number; usage: Promise<StorageUsage> } | undefined;
  private settled: { at: number; usage: StorageUsage } | undefined;

  constructor(private readonly registry: Registry) {}

  /**
   * The current figures (computed at most MAX_AGE_MS ago). With `allowStale`, figures up to
   * STALE_MS old are returned at once while fresh ones are computed behind (the repositories
   * page must not wait for a pass over the whole registry).
   */
  get(opts: { allowStale?: boolean } = {}): Promise<StorageUsage> {
    const now = Date.now();
    if (this.settled && now - this.settled.at <= MAX_AGE_MS)
      return Promise.resolve(this.settled.usage);
    if (opts.allowStale && this.settled && now - this.settled.at <= STALE_MS) {
      this.refresh().catch(() => {});
      return Promise.resolve(this.settled.usage);
    }
    return this.refresh();
  }

  private refresh(): Promise<StorageUsage> {
    if (!this.running) {
      const at = Date.now();
      const usage = this.compute().then((u) => {
        this.settled = { at, usage: u };
        return u;
      });
      this.running = { at, usage };
      usage.finally(() => (this.running = undefined)).catch(() => {});
    }
    return this.running.usage;
  }

  private async compute(): Promise<StorageUsage> {
    const blobsOf = new Map<string, Set<string>>();
    const manifests = new Map<string, string[]>();
    for await (const { repo, digest, record } of this.registry.meta.allManifests()) {
      let set = blobsOf.get(repo);
      if (!set) blobsOf.set(repo, (set = new Set()));
      set.add(digest);
      for (const ref of record.refs) set.add(ref);
      (manifests.get(repo) ?? manifests.set(repo, []).get(repo)!).push(digest);
    }
    const tags = new Map<string, number>();
    for await (const { repo } of this.registry.meta.allTags())
      tags.set(repo, (tags.get(repo) ?? 0) + 1);
    const holders = new Map<string, Set<string>>();
    for (const [repo, set] of blobsOf)
      for (const d of set) (holders.get(d) ?? holders.set(d, new Set()).get(d)!).add(repo);
    const sizes = new Map<string, number>();
    for (const d of holders.keys()) sizes.set(d, (await this.factsOf(d))?.size ?? 0);

    const repositories: RepositoryUsage[] = [];
    for (const [name, set] of blobsOf) {
      let bytes = 0;
      let shared = 0;
      for (const d of set) {
        bytes += sizes.get(d)!;
        if (holders.get(d)!.size > 1) shared += sizes.get(d)!;
      }
      let newest = 0;
      for (const m of manifests.get(name) ?? [])
        newest = Math.max(newest, (await this.factsOf(m))?.mtime ?? 0);
      repositories.push({
        name,
        bytes,
        sharedBytes: shared,
        manifests: manifests.get(name)?.length ?? 0,
        tags: tags.get(name) ?? 0,
        ...(newest ? { lastPush: new Date(newest).toISOString() } : {}),
      });
    }
    repositories.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let total = 0;
    let sharedTotal = 0;
    for (const [d, repos] of holders) {
      total += sizes.get(d)!;
      if (repos.size > 1) sharedTotal += sizes.get(d)!;
    }
    return {
      computedAt: new Date().toISOString(),
      totalBytes: total,
      sharedBytes: sharedTotal,
      repositories,
      namespaces: namespaceUsage(blobsOf, holders, sizes),
    };
  }

  private async factsOf(digest: string): Promise<BlobFacts | null> {
    const hit = this.facts.get(digest);
    if (hit !== undefined) return hit;
    try {
      const info = await this.registry.driver.stat(blobDataPath(digest));
      const facts = { size: info.size, mtime: info.modTime.getTime() };
      this.facts.set(digest, facts);
      return facts;
    } catch {
      return null; // referenced but absent (a GC race, a proxied blob not fetched yet)
    }
  }
}

export function namespaceOf(repo: string): string {
  const slash = repo.indexOf('/');
  return slash < 0 ? '' : repo.slice(0, slash);
}

function namespaceUsage(
  blobsOf: Map<string, Set<string>>,
  holders: Map<string, Set<string>>,
  sizes: Map<string, number>,
): NamespaceUsage[] {
  const members = new Map<string, string[]>();
  for (const repo of blobsOf.keys()) {
    const ns = namespaceOf(repo);
    (members.get(ns) ?? members.set(ns, []).get(ns)!).push(repo);
  }
  const out: NamespaceUsage[] = [];
  for (const [name, repos] of members) {
    const set = new Set<string>();
    for (const r of repos) for (const d of blobsOf.get(r)!) set.add(d);
    let bytes = 0;
    let shared = 0;
    for (const d of set) {
      bytes += sizes.get(d)!;
      if ([...holders.get(d)!].some((r) => namespaceOf(r) !== name)) shared += sizes.get(d)!;
    }
    out.push({ name, bytes, sharedBytes: shared, repositories: repos.length });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}
