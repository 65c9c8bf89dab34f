// The PostgreSQL connection pool and what its failures mean: `Database.run` retries once on a
// connection that died (a database restart leaves dead sockets in the pool) and turns "cannot
// reach the database" into MetadataUnavailableError (503 with a retry hint); `describeStartError`
// turns a failed first connection into one line naming what to fix.
import pg from 'pg';
import type { QueryConfig, QueryResultRow } from 'pg';
import type { PostgresMetadataConfig } from '../../config.js';
import { MetadataUnavailableError } from '../store.js';

/** Seconds a client is told to wait while the database is unreachable. */
const RETRY_AFTER = 5;

/** Network errors while connecting or talking to the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
]);

/** SQLSTATEs that mean "try again later", not "the request is wrong". */
function transientState(code: string): boolean {
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('53') || // insufficient resources (too many connections, disk full)
    code.startsWith('57P') || // admin / crash shutdown, cannot connect now
    code === '40001' || // serialization failure
    code === '40P01' // deadlock detected
  );
}

/** True when the error means the database is unreachable or went away, not a bad query. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || transientState(e.code)))
    return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|not queryable|timeout exceeded when trying to connect|Query read timeout/.test(
    message,
  );
}

/** A dead socket from before a restart: worth one immediate retry on a fresh connection. */
function diedMidway(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e.code === 'ECONNRESET' ||
    e.code === 'EPIPE' ||
    e.code === '57P01' ||
    e.code === '57P02' ||
    /Connection terminated unexpectedly|not queryable/.test(String(e.message))
  );
}

export type Query = QueryConfig<unknown[]>;

/** The pool plus the error policy every statement goes through. */
export class Database {
  readonly pool: pg.Pool;
  constructor(config: PostgresMetadataConfig) {
    this.pool = new pg.Pool({
      connectionString: config.dsn,
      max: config.poolsize,
      connectionTimeoutMillis: config.connecttimeout * 1000,
      query_timeout: config.querytimeout * 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'tsregistry',
    });
    // An idle connection whose server went away: the pool drops it; nothing else to do.
    this.pool.on('error', () => {});
  }

  /** Runs a statement (a prepared one when it has a name). */
  async query<R extends QueryResultRow>(q: Query): Promise<R[]> {
    return await this.run(async () => (await this.pool.query<R>(q)).rows);
  }

  /** Runs a write; the number of rows it changed. */
  async execute(q: Query): Promise<number> {
    return await this.run(async () => (await this.pool.query(q)).rowCount ?? 0);
  }

  /** Retries once on a connection that died; maps unreachability to MetadataUnavailableError. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      if (diedMidway(err)) {
        try {
          return await fn();
        } catch (again) {
          if (!isUnavailable(again)) throw again;
          throw unavailable(again);
        }
      }
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export function unavailable(cause: unknown): MetadataUnavailableError {
  return new MetadataUnavailableError('metadata database unavailable', RETRY_AFTER, { cause });
}

/** `host:port/database as user`, never the password. */
export function describeTarget(dsn: string): string {
  try {
    // `postgresql://user@/db?host=/socket/dir` has no host: give the URL parser one.
    const u = new URL(
      dsn.replace(/^(postgres(?:ql)?:\/\/(?:[^/?#@]*@)?)(?=[/?#]|$)/, '$1localhost'),
    );
    const host = u.searchParams.get('host') ?? (u.hostname || 'localhost');
    const port = u.searchParams.get('port') ?? (u.port || '5432');
    const db = decodeURIComponent(u.pathname.slice(1)) || 'postgres';
    return `${host}:${port}/${db}${u.username ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    return 'the configured database';
  }
}

/** One line for a failed first connection: what happened and what to fix. */
export function describeStartError(dsn: string, err: unknown): { message: string; hint: string } {
  const target = `PostgreSQL at ${describeTarget(dsn)}`;
  const e = err as { code?: string; message?: string };
  const reason = String(e.message ?? err).split('\n')[0];
  const dsnHint = 'fix metadata.postgres.dsn (or REGISTRY_METADATA_POSTGRES_DSN)';
  switch (e.code) {
    case '28P01':
    case '28000':
      return { message: `${target} refused the login: ${reason}`, hint: `${dsnHint} credentials` };
    case '3D000':
      return {
        message: `${target}: ${reason}`,
        hint: `create the database or ${dsnHint}`,
      };
    default:
      return {
        message: `cannot use ${target}: ${reason}`,
        hint: isUnavailable(err)
          ? `start the database or ${dsnHint}`
          : `check the database and metadata.postgres.dsn`,
      };
  }
}
