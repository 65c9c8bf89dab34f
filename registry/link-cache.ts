// The (repository, blob) links one process knows exist, for blob GET/HEAD without a metadata
// read. Indexed by digest, so forgetting a blob GC deleted costs that blob's own links: a scan of
// the whole cache per deleted blob stalled the event loop for 20 s when a collection deleted
// 1000 blobs with 100k links cached. A cache of size 0 keeps nothing (a store shared with other
// processes, which may unlink a blob at any moment: every lookup asks the store).
export class LinkCache {
  private readonly byDigest = new Map<string, Set<string>>();
  private count = 0;
  constructor(private readonly max = 100_000) {}

  has(repo: string, digest: string): boolean {
    return this.byDigest.get(digest)?.has(repo) ?? false;
  }

  add(repo: string, digest: string): void {
    if (this.max === 0) return;
    if (this.count >= this.max) this.clear();
    let repos = this.byDigest.get(digest);
    if (!repos) this.byDigest.set(digest, (repos = new Set()));
    if (repos.has(repo)) return;
    repos.add(repo);
    this.count++;
  }

  delete(repo: string, digest: string): void {
    const repos = this.byDigest.get(digest);
    if (!repos?.delete(repo)) return;
    this.count--;
    if (repos.size === 0) this.byDigest.delete(digest);
  }

  /** Forgets every link of a digest. */
  forgetDigest(digest: string): void {
    const repos = this.byDigest.get(digest);
    if (!repos) return;
    this.count -= repos.size;
    this.byDigest.delete(digest);
  }

  clear(): void {
    this.byDigest.clear();
    this.count = 0;
  }
}
