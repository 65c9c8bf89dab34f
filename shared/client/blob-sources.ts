// Where blobs came from: a small sidecar file in the store root (`blob-sources.json`) that
// remembers, per blob digest, the `registry/repository` names it was pulled from or pushed to,
// so a later push to the same registry can cross-repo mount instead of uploading. It is a hint:
// lost updates under concurrency only cost an upload.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

const FILE = 'blob-sources.json';
/** Repositories remembered per blob (most recent first). */
const PER_BLOB = 4;
/** Blobs remembered in all (the oldest are forgotten). */
const MAX_BLOBS = 20_000;

type Table = Record<string, string[]>;

export class BlobSources {
  private dirty = false;

  private constructor(
    private readonly path: string,
    private readonly table: Table,
  ) {}

  static async load(storeRoot: string): Promise<BlobSources> {
    const path = join(storeRoot, FILE);
    let table: Table = {};
    try {
      const parsed = JSON.parse(await fs.readFile(path, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) table = parsed as Table;
    } catch {
      // missing or unreadable: start afresh
    }
    return new BlobSources(path, table);
  }

  /** Repositories on `registry` known to hold `digest`. */
  repositories(digest: string, registry: string): string[] {
    const prefix = `${registry}/`;
    return (this.table[digest] ?? [])
      .filter((n) => n.startsWith(prefix))
      .map((n) => n.slice(prefix.length));
  }

  add(digest: string, registry: string, repository: string): void {
    const name = `${registry}/${repository}`;
    const list = this.table[digest] ?? [];
    if (list[0] === name) return;
    this.table[digest] = [name, ...list.filter((n) => n !== name)].slice(0, PER_BLOB);
    this.dirty = true;
  }

  /** Writes the table back (merged with what other processes wrote meanwhile). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const current = await BlobSources.load(join(this.path, '..'));
    for (const [digest, names] of Object.entries(this.table)) {
      const merged = [...names, ...(current.table[digest] ?? []).filter((n) => !names.includes(n))];
      current.table[digest] = merged.slice(0, PER_BLOB);
    }
    const entries = Object.entries(current.table);
    const kept = Object.fromEntries(entries.slice(Math.max(0, entries.length - MAX_BLOBS)));
    const tmp = `${this.path}.tmp-${process.pid}-${Date.now()}`;
    await fs.writeFile(tmp, JSON.stringify(kept));
    await fs.rename(tmp, this.path);
    this.dirty = false;
  }
}
