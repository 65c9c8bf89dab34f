// The LevelDB MetadataStore (embedded default). Keys come from keys.ts; values are JSON.
import { Level } from 'level';
import { END, keys, MIGRATIONS, SCHEMA_KEY, SCHEMA_VERSION, splitRepoKey } from './keys.js';
import {
  referrerOf,
  type Descriptor,
  type ManifestRecord,
  type MetadataStore,
  type Page,
  type ReferenceHold,
  type UploadSession,
} from './store.js';

type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

export class LevelMetadataStore implements MetadataStore {
  private readonly db: Level<string, string>;
  private collection = Promise.resolve();
  constructor(readonly location: string) {
    this.db = new Level<string, string>(location, { valueEncoding: 'utf8' });
  }

  async open(): Promise<void> {
    await this.db.open();
    const current = Number((await this.db.get(SCHEMA_KEY)) ?? 0);
    if (current > SCHEMA_VERSION)
      throw new Error(
        `metadata schema ${current} is newer than this tsregistry (${SCHEMA_VERSION})`,
      );
    for (let v = current; v < SCHEMA_VERSION; v++) {
      await MIGRATIONS[v]!(this.db);
      await this.db.put(SCHEMA_KEY, String(v + 1));
    }
    // One process owns an embedded store: no write or GC of an earlier run is still in flight,
    // so holds and condemnations a crash left behind mean nothing any more.
    await this.clearPrefix(keys.holdPrefix());
    await this.clearPrefix(keys.condemnedPrefix());
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async getTag(repo: string, tag: string): Promise<string | undefined> {
    return await this.db.get(keys.tag(repo, tag));
  }

  async listTags(repo: string, page: Page = {}): Promise<string[]> {
    return await this.listSuffixes(keys.tagPrefix(repo), page);
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    const key = keys.tag(repo, tag);
    if ((await this.db.get(key)) === undefined) return false;
    await this.db.del(key);
    return true;
  }

  async getManifest(repo: string, digest: string): Promise<ManifestRecord | undefined> {
    const v = await this.db.get(keys.manifest(repo, digest));
    return v === undefined ? undefined : (JSON.parse(v) as ManifestRecord);
  }

  async putManifest(
    repo: string,
    digest: string,
    record: ManifestRecord,
    tag?: string,
  ): Promise<void> {
    const ops: Op[] = [
      { type: 'put', key: keys.repo(repo), value: '' },
      { type: 'put', key: keys.link(repo, digest), value: '' },
      { type: 'put', key: keys.manifest(repo, digest), value: JSON.stringify(record) },
    ];
    if (tag !== undefined) ops.push({ type: 'put', key: keys.tag(repo, tag), value: digest });
    if (record.subject) {
      ops.push({
        type: 'put',
        key: keys.referrer(repo, record.subject, digest),
        value: JSON.stringify(referrerOf(digest, record)),
      });
    }
    await this.db.batch(ops);
  }

  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    const record = await this.getManifest(repo, digest);
    if (!record) return false;
    const ops: Op[] = [{ type: 'del', key: keys.manifest(repo, digest) }];
    for await (const [key, value] of this.db.iterator(range(keys.tagPrefix(repo))))
      if (value === digest) ops.push({ type: 'del', key });
    if (record.subject) ops.push({ type: 'del', key: keys.referrer(repo, record.subject, digest) });
    await this.db.batch(ops);
    return true;
  }

  async *allManifests(): AsyncIterable<{ repo: string; digest: string; record: ManifestRecord }> {
    for await (const [key, value] of this.db.iterator(range(keys.manifestPrefix()))) {
      const { repo, last } = splitRepoKey(key);
      yield { repo, digest: last, record: JSON.parse(value) as ManifestRecord };
    }
  }

  async *allTags(): AsyncIterable<{ repo: string; tag: string; digest: string }> {
    for await (const [key, value] of this.db.iterator(range('t!'))) {
      const { repo, last } = splitRepoKey(key);
      yield { repo, tag: last, digest: value };
    }
  }

  async referrers(repo: string, subject: string): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for await (const value of this.db.values(range(keys.referrerPrefix(repo, subject))))
      out.push(JSON.parse(value) as Descriptor);
    return out;
  }

  async hasLink(repo: string, digest: string): Promise<boolean> {
    return (await this.db.get(keys.link(repo, digest))) !== undefined;
  }

  async putLink(repo: string, digest: string): Promise<void> {
    await this.db.batch([
      { type: 'put', key: keys.repo(repo), value: '' },
      { type: 'put', key: keys.link(repo, digest), value: '' },
    ]);
  }

  async deleteLink(repo: string, digest: string): Promise<boolean> {
    if (!(await this.hasLink(repo, digest))) return false;
    await this.db.del(keys.link(repo, digest));
    return true;
  }

  async *allLinks(): AsyncIterable<{ repo: string; digest: string }> {
    for await (const key of this.db.keys(range(keys.linkPrefix()))) {
      const { repo, last } = splitRepoKey(key);
      yield { repo, digest: last };
    }
  }

  async repositoryExists(repo: string): Promise<boolean> {
    return (await this.db.get(keys.repo(repo))) !== undefined;
  }

  async listRepositories(page: Page = {}): Promise<string[]> {
    return await this.listSuffixes(keys.repoPrefix(), page);
  }

  async putSession(session: UploadSession): Promise<void> {
    await this.db.put(keys.session(session.uuid), JSON.stringify(session));
  }

  async getSession(uuid: string): Promise<UploadSession | undefined> {
    const v = await this.db.get(keys.session(uuid));
    return v === undefined ? undefined : (JSON.parse(v) as UploadSession);
  }

  async deleteSession(uuid: string): Promise<void> {
    await this.db.del(keys.session(uuid));
  }

  async *allSessions(): AsyncIterable<UploadSession> {
    for await (const value of this.db.values(range(keys.sessionPrefix())))
      yield JSON.parse(value) as UploadSession;
  }

  async putHold(hold: ReferenceHold): Promise<void> {
    await this.db.put(keys.hold(hold.id), JSON.stringify(hold));
  }

  async deleteHold(id: string): Promise<void> {
    await this.db.del(keys.hold(id));
  }

  async *allHolds(): AsyncIterable<ReferenceHold> {
    for await (const value of this.db.values(range(keys.holdPrefix())))
      yield JSON.parse(value) as ReferenceHold;
  }

  async condemn(digests: string[]): Promise<void> {
    await this.db.batch(digests.map((d) => ({ type: 'put', key: keys.condemned(d), value: '' })));
  }

  async pardon(digests?: string[]): Promise<void> {
    if (digests === undefined) return await this.clearPrefix(keys.condemnedPrefix());
    await this.db.batch(digests.map((d) => ({ type: 'del', key: keys.condemned(d) })));
  }

  async condemned(digests: string[]): Promise<string[]> {
    const values = await this.db.getMany(digests.map(keys.condemned));
    return digests.filter((_, i) => values[i] !== undefined);
  }

  /** One process opens the store, so the collection lock is in-process: a queue of runs. */
  async lockCollection(): Promise<() => Promise<void>> {
    const before = this.collection;
    let release!: () => void;
    this.collection = new Promise<void>((r) => (release = r));
    await before;
    return async () => release();
  }

  private async clearPrefix(prefix: string): Promise<void> {
    await this.db.clear(range(prefix));
  }

  private async listSuffixes(prefix: string, page: Page): Promise<string[]> {
    const opts: { gt: string; lt: string; limit?: number } = {
      gt: page.last !== undefined ? prefix + page.last : prefix,
      lt: prefix + END,
    };
    if (page.n !== undefined) opts.limit = page.n;
    if (page.n === 0) return [];
    const out: string[] = [];
    for await (const key of this.db.keys(opts)) out.push(key.slice(prefix.length));
    return out;
  }
}

function range(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: prefix + END };
}
