// The PostgreSQL schema, versioned in code: MIGRATIONS[i] is version i + 1 and is never edited
// once released; a change is a new entry at the end. `migrate` applies the pending ones in one
// transaction under an advisory lock, so replicas starting at the same time apply each once.
//
//   schema_migrations (version PK, name, applied_at)      what has been applied
//   repositories      (name PK)                           the catalog
//   manifests         (repo, digest) PK, subject, record  a manifest held by a repository;
//                     index (repo, subject)                 its referrer entry is the subject column
//   tags              (repo, tag) PK, digest -> manifests   a tag (goes with its manifest)
//                     index (repo, digest)
//   blob_links        (repo, digest) PK                    a blob linked into a repository
//   upload_sessions   (uuid PK, data)                      an upload session, shared by replicas
//   gc_holds          (id PK, digests, at)                 what in-flight manifest writes reference
//   gc_condemned      (digest PK, at)                      what a running GC is about to delete
//
// Text columns use the "C" collation: byte order, the order of the LevelDB store's keys.
import type { PoolClient } from 'pg';

export interface Migration {
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'initial schema',
    sql: `
      CREATE TABLE repositories (name text COLLATE "C" PRIMARY KEY);
      CREATE TABLE manifests (
        repo text COLLATE "C" NOT NULL,
        digest text COLLATE "C" NOT NULL,
        subject text COLLATE "C",
        record json NOT NULL,
        PRIMARY KEY (repo, digest)
      );
      CREATE INDEX manifests_subject ON manifests (repo, subject, digest) WHERE subject IS NOT NULL;
      CREATE TABLE tags (
        repo text COLLATE "C" NOT NULL,
        tag text COLLATE "C" NOT NULL,
        digest text COLLATE "C" NOT NULL,
        PRIMARY KEY (repo, tag),
        FOREIGN KEY (repo, digest) REFERENCES manifests (repo, digest) ON DELETE CASCADE
      );
      CREATE INDEX tags_digest ON tags (repo, digest);
      CREATE TABLE blob_links (
        repo text COLLATE "C" NOT NULL,
        digest text COLLATE "C" NOT NULL,
        PRIMARY KEY (repo, digest)
      );
      CREATE TABLE upload_sessions (uuid text COLLATE "C" PRIMARY KEY, data json NOT NULL);
    `,
  },
  {
    name: 'gc holds and condemnations',
    sql: `
      CREATE TABLE gc_holds (
        id text COLLATE "C" PRIMARY KEY,
        digests text[] NOT NULL,
        at bigint NOT NULL
      );
      CREATE TABLE gc_condemned (
        digest text COLLATE "C" PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

/** Any fixed number: the advisory lock every replica takes while migrating. */
const MIGRATION_LOCK = 0x7473_7265_6701;

/** Applies pending migrations; refuses a database whose schema is newer than this code. */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > MIGRATIONS.length)
      throw new SchemaTooNewError(
        `metadata schema ${current} is newer than this tsregistry (${MIGRATIONS.length})`,
      );
    for (let v = current; v < MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v]!;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        v + 1,
        m.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export class SchemaTooNewError extends Error {}
