// When each cached item of the proxy (repository@digest) was last used, for LRU eviction: kept
// in memory and saved in batches (every FLUSH_MS while something changed, and at shutdown) to
// the storage, one small JSON file per process (`proxy-last-use/<host>-<worker>.json`, see
// ../paths.ts), so the order survives a restart and every worker's uses count. Reading merges
// all the files, the latest use winning.
import { hostname } from 'node:os';
import { WORKER_SLOT_ENV } from '../cluster.js';
import { PROXY_LAST_USE_ROOT, proxyLastUsePath } from '../paths.js';
import type { StorageDriver } from '../storage/driver.js';

const FLUSH_MS = 10_000;
const MAX_ITEMS = 200_000;

export class LastUse {
  /** `${repo}@${digest}` -> last use (ms), the least recent first (re-inserted on use). */
  private readonly uses = new Map<string, number>();
  private readonly file = proxyLastUsePath(
    `${hostname()}-${process.env[WORKER_SLOT_ENV] ?? 'main'}`,
  );
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private readonly loaded: Promise<void>;

  constructor(private readonly driver: StorageDriver) {
    this.loaded = this.load().catch(() => {});
  }

  touch(repo: string, digest: string): void {
    this.record(`${repo}@${digest}`, Date.now());
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch(() => {});
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** The last use seen here or saved by any process, or undefined. */
  async get(repo: string, digest: string): Promise<number | undefined> {
    await this.loaded;
    return this.uses.get(`${repo}@${digest}`);
  }

  forget(repo: string, digest: string): void {
    if (this.uses.delete(`${repo}@${digest}`)) this.dirty = true;
  }

  private record(key: string, at: number): void {
    this.uses.delete(key);
    this.uses.set(key, at);
    if (this.uses.size > MAX_ITEMS) this.uses.delete(this.uses.keys().next().value as string);
  }

  /** Saves what changed since the last save (one write of this process's file). */
  async flush(): Promise<void> {
    await this.saving;
    if (!this.dirty) return;
    this.dirty = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries: Record<string, number> = {};
    for (const [key, at] of this.uses.entries()) entries[key] = at;
    this.saving = this.driver
      .putContent(this.file, Buffer.from(JSON.stringify(entries)))
      .catch(() => void (this.dirty = true))
      .finally(() => (this.saving = undefined));
    await this.saving;
  }

  /** Merges the saved files of every process (the latest use of each item wins). */
  private async load(): Promise<void> {
    let files: string[];
    try {
      files = await this.driver.list(PROXY_LAST_USE_ROOT);
    } catch {
      return; // nothing saved yet
    }
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      let saved: Record<string, unknown>;
      try {
        saved = JSON.parse((await this.driver.getContent(file)).toString()) as Record<
          string,
          unknown
        >;
      } catch {
        continue; // unreadable: the uses it held are lost, not the cache
      }
      for (const [key, at] of Object.entries(saved))
        if (typeof at === 'number' && at > (this.uses.get(key) ?? 0)) this.record(key, at);
    }
  }
}
