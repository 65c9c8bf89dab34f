// The PostgreSQL MetadataStore on a real PostgreSQL (a throwaway cluster, test/helpers/postgres.ts):
// the same contract as the LevelDB store, schema migrations under concurrent starts, and what a
// start against a wrong or unreachable database prints.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TsdockError } from '../../shared/errors.js';
import type { PostgresMetadataConfig } from '../../registry/config.js';
import { PostgresMetadataStore } from '../../registry/metadata/postgres/postgres-store.js';
import { MIGRATIONS } from '../../registry/metadata/postgres/migrations.js';
import { MetadataUnavailableError } from '../../registry/metadata/store.js';
import { metadataContract } from '../helpers/metadata-contract.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { freePort, tsregistryBin } from '../helpers/registry-server.js';
import { waitFor } from '../helpers/wait.js';

let server: TestPostgres;
let databases = 0;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.close();
});

const pgConfig = (dsn: string): PostgresMetadataConfig => ({
  dsn,
  poolsize: 4,
  connecttimeout: 5,
  querytimeout: 30,
});

async function freshStore(): Promise<{ store: PostgresMetadataStore; dsn: string }> {
  const dsn = await server.createDatabase(`contract_${++databases}`);
  const store = new PostgresMetadataStore(pgConfig(dsn));
  await store.open();
  return { store, dsn };
}

metadataContract({
  name: 'postgres',
  async create() {
    const { store, dsn } = await freshStore();
    return {
      store,
      async reopen() {
        await store.close();
        const again = new PostgresMetadataStore(pgConfig(dsn));
        await again.open();
        return again;
      },
      cleanup: async () => {},
    };
  },
});

test('postgres metadata: replicas starting at once apply each migration once', async () => {
  const dsn = await server.createDatabase('migrations');
  // Half of them over the unix socket (a DSN without a host).
  const socketDsn = `postgresql://tsregistry@/migrations?host=${server.socketDir}&port=${server.port}`;
  const stores = Array.from(
    { length: 4 },
    (_, i) => new PostgresMetadataStore(pgConfig(i % 2 ? socketDsn : dsn)),
  );
  await Promise.all(stores.map((s) => s.open()));
  await Promise.all(stores.map((s) => s.close()));
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    // A schema newer than this code is refused, with what to do.
    await client.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
  } finally {
    await client.end();
  }
  const newer = new PostgresMetadataStore(pgConfig(dsn));
  await assert.rejects(newer.open(), (err: TsdockError) =>
    /schema 999 is newer than this tsregistry.*upgrade tsregistry/.test(err.toLine()),
  );
});

test('postgres metadata: pushes and deletes of one manifest at once never fail or leave a dangling tag', async () => {
  const { store } = await freshStore();
  try {
    const rec = { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, refs: [] };
    for (let round = 0; round < 40; round++)
      await Promise.all([
        store.putManifest('r', 'sha256:m', rec, `a${round}`),
        store.deleteManifest('r', 'sha256:m'),
        store.putManifest('r', 'sha256:m', rec, `b${round}`),
        store.deleteManifest('r', 'sha256:m'),
      ]);
    for await (const { tag, digest } of store.allTags())
      assert.ok(await store.getManifest('r', digest), `tag ${tag} points at a manifest`);
  } finally {
    await store.close();
  }
});

test('postgres metadata: a statement past querytimeout is "unavailable" (503), not a hang', async () => {
  const { store, dsn } = await freshStore();
  const slow = new PostgresMetadataStore({ ...pgConfig(dsn), querytimeout: 1 });
  await slow.open();
  const locker = new pg.Client({ connectionString: dsn });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tags IN ACCESS EXCLUSIVE MODE');
    await assert.rejects(slow.getTag('r', 'v1'), MetadataUnavailableError);
    await locker.query('ROLLBACK');
    assert.equal(await slow.getTag('r', 'v1'), undefined, 'fine again once the lock is gone');
  } finally {
    await locker.end();
    await slow.close();
    await store.close();
  }
});

test('postgres metadata: a wrong or unreachable database at start is one line and exit 1', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-pgstart-'));
  try {
    const closedPort = await freePort();
    const cases: Array<[string, RegExp]> = [
      [
        `postgresql://tsregistry@127.0.0.1:${closedPort}/postgres`,
        new RegExp(
          `127\\.0\\.0\\.1:${closedPort}/postgres.*ECONNREFUSED.*start the database or fix metadata\\.postgres\\.dsn`,
        ),
      ],
      [server.dsn('no_such_db'), /database "no_such_db" does not exist.*create the database/],
      ['mysql://x@127.0.0.1/db', /invalid metadata\.postgres\.dsn.*postgresql:\/\//],
    ];
    for (const [dsn, expected] of cases) {
      const config = join(root, 'config.yml');
      writeFileSync(
        config,
        `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:0\nmetadata:\n  postgres:\n    dsn: ${dsn}\n    connecttimeout: 5\n`,
      );
      const res = spawnSync(process.execPath, [tsregistryBin(), '--config', config], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(res.status, 1, `${dsn}: exit 1 (${res.stderr})`);
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${res.stderr}`);
      assert.match(lines[0]!, /^tsregistry: /);
      assert.match(lines[0]!, expected);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('postgres metadata: one collection at a time across processes (advisory lock), freed when its session dies', async () => {
  const { store, dsn } = await freshStore();
  const other = new PostgresMetadataStore(pgConfig(dsn));
  await other.open();
  try {
    const first = await store.lockCollection();
    let second = false;
    const waiting = other.lockCollection().then((release) => {
      second = true;
      return release;
    });
    // Wait until the other store has asked for the lock (and been refused) at least once.
    const watcher = new pg.Client({ connectionString: dsn });
    await watcher.connect();
    try {
      await waitFor(async () => {
        const { rows } = await watcher.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'tsregistry gc' AND query LIKE '%pg_try_advisory_lock%'",
        );
        return Number(rows[0]!.n) >= 2;
      }, 'the second store to try the collection lock');
    } finally {
      await watcher.end();
    }
    assert.equal(second, false, 'the other store waits');
    await first();
    const release = await waiting;
    assert.equal(second, true);
    // A collector whose connection dies (its process killed) frees the lock with its session.
    const admin = new pg.Client({ connectionString: dsn });
    await admin.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tsregistry gc'",
    );
    await admin.end();
    await (
      await store.lockCollection()
    )();
    await release();
  } finally {
    await other.close();
    await store.close();
  }
});
