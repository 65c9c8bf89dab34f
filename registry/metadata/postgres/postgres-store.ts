// The PostgreSQL MetadataStore: one database shared by every tsregistry replica. Statements come
// from queries.ts, the schema from migrations.ts, the pool and its failure policy from
// connection.ts. Writes that belong together are one statement (so one transaction); listings
// stream in keyset pages; while the database is unreachable calls fail with
// MetadataUnavailableError. The reads every pull makes (a tag, a manifest, a blob link) are
// shared by concurrent callers, each answered by a query begun after it asked (fresh-reads.ts).
import { TsdockError } from '../../../shared/errors.js';
import type { PostgresMetadataConfig } from '../../config.js';
import type { QueryResultRow } from 'pg';
import {
  referrerOf,
  type Descriptor,
  type ManifestRecord,
  type MetadataStore,
  type Page,
  type ReferenceHold,
  type StoreChange,
  type UploadSession,
} from '../store.js';
import { Database, describeStartError, type Query } from './connection.js';
import { migrate, SchemaTooNewError } from './migrations.js';
import { PAGE, sql } from './queries.js';
import { lockCollection } from './gc-lock.js';
import { ChangeFeed, CHANNEL } from './change-feed.js';
import { FreshReads } from './fresh-reads.js';

/**
 * A condemnation older than this is left by a collector that died mid-run (a run condemns one
 * batch at a time and pardons it within seconds); writers ignore it rather than wait forever.
 */
const CONDEMNED_TTL_S = 30 * 60;

/** Exit code for a database that cannot be used at start (1 like any other start failure of the server, not 125). */
const START_FAILURE = 1;
const FOREIGN_KEY_VIOLATION = '23503';

export class PostgresMetadataStore implements MetadataStore {
  private readonly db: Database;
  private feed: ChangeFeed | undefined;
  private readonly tags: FreshReads<string | undefined>;
  private readonly manifests: FreshReads<ManifestRecord | undefined>;
  private readonly links: FreshReads<boolean>;
  constructor(private readonly config: PostgresMetadataConfig) {
    this.db = new Database(config);
    const split = (key: string) => key.split('\n') as [string, string];
    this.tags = new FreshReads(
      async (key) => (await this.one<{ digest: string }>(sql.getTag(split(key))))?.digest,
    );
    this.manifests = new FreshReads(
      async (key) =>
        (await this.one<{ record: ManifestRecord }>(sql.getManifest(split(key))))?.record,
    );
    this.links = new FreshReads(
      async (key) => (await this.one(sql.hasLink(split(key)))) !== undefined,
    );
  }

  /** Connects and migrates; a database that cannot be used is a one-line error (exit 1). */
  async open(): Promise<void> {
    try {
      const client = await this.db.pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await this.db.close().catch(() => {});
      if (err instanceof SchemaTooNewError)
        throw new TsdockError(err.message, 'upgrade tsregistry', START_FAILURE);
      const { message, hint } = describeStartError(this.config.dsn, err);
      throw new TsdockError(message, hint, START_FAILURE, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.feed?.close();
    await this.db.close();
  }

  async watch(listener: (change: StoreChange) => void): Promise<void> {
    this.feed = new ChangeFeed(this.config, listener);
    await this.feed.start().catch((err: unknown) => {
      const { message, hint } = describeStartError(this.config.dsn, err);
      throw new TsdockError(message, hint, START_FAILURE, { cause: err });
    });
  }

  /** Tells the other processes (after the write committed, before the caller answers). */
  private async announce(change: StoreChange): Promise<void> {
    const send = async (payload: string) =>
      void (await this.db.execute(sql.notify([CHANNEL, payload])));
    if (this.feed) await this.feed.announce(change, send);
    else await send(JSON.stringify(change));
  }

  // Repository names and references hold no newline: it joins the two into one key.
  async getTag(repo: string, tag: string): Promise<string | undefined> {
    return await this.tags.get(`${repo}\n${tag}`);
  }

  async listTags(repo: string, page: Page = {}): Promise<string[]> {
    if (page.n === 0) return [];
    const rows = await this.db.query<{ tag: string }>(
      sql.listTags([repo, page.last ?? '', page.n ?? null]),
    );
    return rows.map((r) => r.tag);
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    // No notice: no process caches tags of a shared store (services/manifests.ts).
    return await this.changed(sql.deleteTag([repo, tag]));
  }

  async getManifest(repo: string, digest: string): Promise<ManifestRecord | undefined> {
    return await this.manifests.get(`${repo}\n${digest}`);
  }

  async putManifest(
    repo: string,
    digest: string,
    record: ManifestRecord,
    tag?: string,
  ): Promise<void> {
    const json = JSON.stringify(record);
    const write = () =>
      this.db.execute(sql.putManifest([repo, digest, record.subject ?? null, json, tag ?? null]));
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (err) {
        // The manifest row was there, then deleted by a concurrent deleteManifest before the
        // tag could point at it (foreign key violation): written again, it is inserted anew.
        if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION || attempt === 3) throw err;
      }
    }
  }

  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    // One statement: the manifest, its tags (cascade) and its referrer entry (same row).
    const found = await this.changed(sql.deleteManifest([repo, digest]));
    if (found) await this.announce({ kind: 'manifest', repo, digest });
    return found;
  }

  async *allManifests(): AsyncIterable<{ repo: string; digest: string; record: ManifestRecord }> {
    yield* this.pages<{ repo: string; digest: string; record: ManifestRecord }>(
      sql.manifestsPage,
      ['', ''],
      (r) => [r.repo, r.digest],
    );
  }

  async *allTags(): AsyncIterable<{ repo: string; tag: string; digest: string }> {
    yield* this.pages<{ repo: string; tag: string; digest: string }>(
      sql.tagsPage,
      ['', ''],
      (r) => [r.repo, r.tag],
    );
  }

  async referrers(repo: string, subject: string): Promise<Descriptor[]> {
    const rows = await this.db.query<{ digest: string; record: ManifestRecord }>(
      sql.referrers([repo, subject]),
    );
    return rows.map(({ digest, record }) => referrerOf(digest, record));
  }

  async hasLink(repo: string, digest: string): Promise<boolean> {
    return await this.links.get(`${repo}\n${digest}`);
  }

  async putLink(repo: string, digest: string): Promise<void> {
    await this.db.execute(sql.putLink([repo, digest]));
  }

  async deleteLink(repo: string, digest: string): Promise<boolean> {
    const found = await this.changed(sql.deleteLink([repo, digest]));
    if (found) await this.announce({ kind: 'link', repo, digest });
    return found;
  }

  async *allLinks(): AsyncIterable<{ repo: string; digest: string }> {
    yield* this.pages<{ repo: string; digest: string }>(sql.linksPage, ['', ''], (r) => [
      r.repo,
      r.digest,
    ]);
  }

  async repositoryExists(repo: string): Promise<boolean> {
    return (await this.one(sql.repositoryExists([repo]))) !== undefined;
  }

  async listRepositories(page: Page = {}): Promise<string[]> {
    if (page.n === 0) return [];
    const rows = await this.db.query<{ name: string }>(
      sql.listRepositories([page.last ?? '', page.n ?? null]),
    );
    return rows.map((r) => r.name);
  }

  async putSession(session: UploadSession): Promise<void> {
    await this.db.query(sql.putSession([session.uuid, JSON.stringify(session)]));
  }

  async getSession(uuid: string): Promise<UploadSession | undefined> {
    return (await this.one<{ data: UploadSession }>(sql.getSession([uuid])))?.data;
  }

  async deleteSession(uuid: string): Promise<void> {
    await this.db.query(sql.deleteSession([uuid]));
  }

  async *allSessions(): AsyncIterable<UploadSession> {
    for await (const row of this.pages<{ uuid: string; data: UploadSession }>(
      sql.sessionsPage,
      [''],
      (r) => [r.uuid],
    ))
      yield row.data;
  }

  // GC coordination (registry/gc-holds.ts). Shared by every replica: unlike the embedded store,
  // nothing is cleared at open, since another replica's writes or collection may be in flight.
  async putHold(hold: ReferenceHold): Promise<void> {
    await this.db.query(sql.putHold([hold.id, hold.digests, hold.at]));
  }

  async deleteHold(id: string): Promise<void> {
    await this.db.query(sql.deleteHold([id]));
  }

  async *allHolds(): AsyncIterable<ReferenceHold> {
    for await (const row of this.pages<{ id: string; digests: string[]; at: string }>(
      sql.holdsPage,
      [''],
      (r) => [r.id],
    ))
      yield { id: row.id, digests: row.digests, at: Number(row.at) };
  }

  async condemn(digests: string[]): Promise<void> {
    if (digests.length > 0) await this.db.query(sql.condemn([digests]));
  }

  async pardon(digests?: string[]): Promise<void> {
    if (digests === undefined) await this.db.query(sql.pardonAll([]));
    else if (digests.length > 0) await this.db.query(sql.pardon([digests]));
  }

  async condemned(digests: string[]): Promise<string[]> {
    if (digests.length === 0) return [];
    const rows = await this.db.query<{ digest: string }>(sql.condemned([digests, CONDEMNED_TTL_S]));
    return rows.map((r) => r.digest);
  }

  async lockCollection(): Promise<() => Promise<void>> {
    return await lockCollection(this.config);
  }

  private async one<R extends QueryResultRow>(q: Query): Promise<R | undefined> {
    return (await this.db.query<R>(q))[0];
  }

  /** Runs a write; true when it changed a row. */
  private async changed(q: Query): Promise<boolean> {
    return (await this.db.execute(q)) > 0;
  }

  /**
   * Streams a listing page by page: each page starts after the last key of the one before
   * (`start` is the key before every row: empty strings).
   */
  private async *pages<R extends QueryResultRow>(
    page: (after: unknown[]) => Query,
    start: string[],
    keyOf: (row: R) => string[],
  ): AsyncIterable<R> {
    let after = start;
    for (;;) {
      const rows = await this.db.query<R>(page(after));
      for (const row of rows) yield row;
      if (rows.length < PAGE) return;
      after = keyOf(rows[rows.length - 1]!);
    }
  }
}
