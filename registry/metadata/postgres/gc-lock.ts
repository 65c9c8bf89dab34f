// The collection lock on PostgreSQL: one garbage collection at a time across every process and
// replica sharing the database. A session advisory lock, taken on a connection of its own (not
// the pool's: the lock lives as long as the session) and held for the whole run; a collector
// that dies loses its session and so the lock, and the next one may start.
import pg from 'pg';
import type { PostgresMetadataConfig } from '../../config.js';
import { isUnavailable, unavailable } from './connection.js';

/** Any fixed number, distinct from the migration lock. */
const GC_LOCK = 0x7473_7265_6702;
const POLL_MS = 200;

/** Waits until this process holds the collection lock; the returned function releases it. */
export async function lockCollection(config: PostgresMetadataConfig): Promise<() => Promise<void>> {
  const client = new pg.Client({
    connectionString: config.dsn,
    connectionTimeoutMillis: config.connecttimeout * 1000,
    application_name: 'tsregistry gc',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1) AS ok',
        [GC_LOCK],
      );
      if (rows[0]?.ok) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw isUnavailable(err) ? unavailable(err) : err;
  }
  // Ending the session releases the lock.
  return async () => await client.end().catch(() => {});
}
