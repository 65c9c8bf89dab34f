// Every SQL statement the PostgreSQL MetadataStore runs, in one place, each a named (prepared
// per connection) statement over the tables of migrations.ts. Listings are keyset pages: each
// page starts after the last row of the one before, on a primary key or index, so a listing
// never holds a connection or loads a whole table.
import type { Query } from './connection.js';

const q =
  (name: string, text: string) =>
  (values: unknown[]): Query => ({ name, text, values });

/** Rows per page of the whole-store listings (GC). */
export const PAGE = 500;

// The writes that belong together are each one statement (data-modifying WITH clauses): one
// statement is one transaction, all of it or nothing, and one round trip to the server.
export const sql = {
  /**
   * The repository, the blob link, the manifest (its subject column is its referrer entry) and
   * the tag. A digest names its bytes and the record derives from them, so an existing manifest
   * row is left as it is, and unlocked: pushes of one manifest under several tags don't queue.
   */
  putManifest: q(
    'put_manifest',
    `WITH repository AS (INSERT INTO repositories (name) VALUES ($1) ON CONFLICT DO NOTHING),
          link AS (INSERT INTO blob_links (repo, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING),
          manifest AS (
            INSERT INTO manifests (repo, digest, subject, record) VALUES ($1, $2, $3, $4::json)
            ON CONFLICT (repo, digest) DO NOTHING
          )
     INSERT INTO tags (repo, tag, digest) SELECT $1, $5::text, $2 WHERE $5::text IS NOT NULL
     ON CONFLICT (repo, tag) DO UPDATE SET digest = EXCLUDED.digest`,
  ),
  /** The repository and the blob link. */
  putLink: q(
    'put_link',
    `WITH repository AS (INSERT INTO repositories (name) VALUES ($1) ON CONFLICT DO NOTHING)
     INSERT INTO blob_links (repo, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
  ),
  getTag: q('get_tag', 'SELECT digest FROM tags WHERE repo = $1 AND tag = $2'),
  listTags: q(
    'list_tags',
    'SELECT tag FROM tags WHERE repo = $1 AND tag > $2 ORDER BY tag LIMIT $3',
  ),
  deleteTag: q('delete_tag', 'DELETE FROM tags WHERE repo = $1 AND tag = $2'),
  getManifest: q('get_manifest', 'SELECT record FROM manifests WHERE repo = $1 AND digest = $2'),
  /** The manifest, its referrer entry (the same row) and its tags (ON DELETE CASCADE). */
  deleteManifest: q('delete_manifest', 'DELETE FROM manifests WHERE repo = $1 AND digest = $2'),
  manifestsPage: q(
    'manifests_page',
    `SELECT repo, digest, record FROM manifests WHERE (repo, digest) > ($1, $2)
     ORDER BY repo, digest LIMIT ${PAGE}`,
  ),
  tagsPage: q(
    'tags_page',
    `SELECT repo, tag, digest FROM tags WHERE (repo, tag) > ($1, $2)
     ORDER BY repo, tag LIMIT ${PAGE}`,
  ),
  referrers: q(
    'referrers',
    `SELECT digest, record FROM manifests WHERE repo = $1 AND subject = $2 ORDER BY digest`,
  ),
  hasLink: q('has_link', 'SELECT 1 FROM blob_links WHERE repo = $1 AND digest = $2'),
  deleteLink: q('delete_link', 'DELETE FROM blob_links WHERE repo = $1 AND digest = $2'),
  linksPage: q(
    'links_page',
    `SELECT repo, digest FROM blob_links WHERE (repo, digest) > ($1, $2)
     ORDER BY repo, digest LIMIT ${PAGE}`,
  ),
  repositoryExists: q('repository_exists', 'SELECT 1 FROM repositories WHERE name = $1'),
  listRepositories: q(
    'list_repositories',
    'SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2',
  ),
  putSession: q(
    'put_session',
    `INSERT INTO upload_sessions (uuid, data) VALUES ($1, $2)
     ON CONFLICT (uuid) DO UPDATE SET data = EXCLUDED.data`,
  ),
  getSession: q('get_session', 'SELECT data FROM upload_sessions WHERE uuid = $1'),
  deleteSession: q('delete_session', 'DELETE FROM upload_sessions WHERE uuid = $1'),
  sessionsPage: q(
    'sessions_page',
    `SELECT uuid, data FROM upload_sessions WHERE uuid > $1 ORDER BY uuid LIMIT ${PAGE}`,
  ),
  /** A notice to every listening process (change-feed.ts), sent when it commits. */
  notify: q('notify', 'SELECT pg_notify($1, $2)'),
  putHold: q('put_hold', 'INSERT INTO gc_holds (id, digests, at) VALUES ($1, $2, $3)'),
  deleteHold: q('delete_hold', 'DELETE FROM gc_holds WHERE id = $1'),
  holdsPage: q(
    'holds_page',
    `SELECT id, digests, at FROM gc_holds WHERE id > $1 ORDER BY id LIMIT ${PAGE}`,
  ),
  condemn: q(
    'condemn',
    `INSERT INTO gc_condemned (digest) SELECT unnest($1::text[])
     ON CONFLICT (digest) DO UPDATE SET at = now()`,
  ),
  pardon: q('pardon', 'DELETE FROM gc_condemned WHERE digest = ANY($1::text[])'),
  pardonAll: q('pardon_all', 'DELETE FROM gc_condemned'),
  /** A condemnation older than the TTL is a crashed collector's and is ignored. */
  condemned: q(
    'condemned',
    `SELECT digest FROM gc_condemned
     WHERE digest = ANY($1::text[]) AND at > now() - make_interval(secs => $2)`,
  ),
};
