// Pure pieces of the PostgreSQL metadata store: `metadata.postgres` in the config (defaults,
// env override, a DSN of the wrong shape), which errors mean "the database is unreachable"
// (503, retry) and which are bugs (500), the 503 reply itself, and start errors that never
// print the password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../registry/config.js';
import { toRegistryError } from '../../registry/errors.js';
import { MetadataUnavailableError } from '../../registry/metadata/store.js';
import {
  describeStartError,
  describeTarget,
  isUnavailable,
} from '../../registry/metadata/postgres/connection.js';
import type { TsdockError } from '../../shared/errors.js';

test('config: metadata.postgres with defaults, durations and the env override', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-pgcfg-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(
      file,
      'version: 0.1\nmetadata:\n  postgres:\n    dsn: postgresql://u@db/reg\n    querytimeout: 1m\n',
    );
    const c = loadConfig(file, {});
    assert.deepEqual(c.metadata?.postgres, {
      dsn: 'postgresql://u@db/reg',
      poolsize: 10,
      connecttimeout: 5,
      querytimeout: 60,
    });
    const env = loadConfig(file, {
      REGISTRY_METADATA_POSTGRES_DSN: 'postgres://v@other:6543/x',
      REGISTRY_METADATA_POSTGRES_POOLSIZE: '3',
    });
    assert.equal(env.metadata?.postgres?.dsn, 'postgres://v@other:6543/x');
    assert.equal(env.metadata?.postgres?.poolsize, 3);
    assert.equal(loadConfig(undefined, {}).metadata, undefined, 'LevelDB by default');
    const bad = (yaml: string, re: RegExp) => {
      writeFileSync(file, `version: 0.1\nmetadata:\n  postgres:\n${yaml}`);
      assert.throws(
        () => loadConfig(file, {}),
        (err: TsdockError) => re.test(err.toLine()) && err.exitCode === 1,
      );
    };
    bad('    dsn: db.example:5432\n', /invalid metadata\.postgres\.dsn: expected postgresql:\/\//);
    bad('    poolsize: 3\n', /invalid metadata\.postgres\.dsn/);
    writeFileSync(file, 'metadata:\n  postgres:\n    dsn: postgresql://u@db/r\n    poolsize: 0\n');
    assert.throws(() => loadConfig(file, {}), /invalid metadata\.postgres\.poolsize "0"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('postgres errors: unreachable means 503 with Retry-After; anything else is not', () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  for (const e of [
    errno('ECONNREFUSED'),
    errno('ECONNRESET'),
    errno('ENOTFOUND'),
    errno('57P01'), // admin shutdown
    errno('57P03'), // the database system is starting up
    errno('08006'), // connection failure
    errno('53300'), // too many connections
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
  ])
    assert.ok(isUnavailable(e), `${e.message} is unavailability`);
  for (const e of [errno('23505'), errno('42P01'), new TypeError('x is undefined'), undefined])
    assert.equal(isUnavailable(e), false, `${String(e)} is a bug, not unavailability`);

  const reply = toRegistryError(new MetadataUnavailableError('metadata database unavailable', 5));
  assert.equal(reply.status, 503);
  assert.equal(reply.code, 'UNAVAILABLE');
  assert.equal(reply.headers['Retry-After'], '5');
  const body = JSON.parse(reply.body()) as { errors: Array<{ code: string; message: string }> };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.match(body.errors[0]!.message, /retry in 5s/);
});

test('postgres start errors name what to fix and never the password', () => {
  const dsn = 'postgresql://reg:s3cret@db.internal:6543/registry';
  assert.equal(describeTarget(dsn), 'db.internal:6543/registry as reg');
  assert.equal(
    describeTarget('postgresql://reg@/registry?host=/run/postgresql'),
    '/run/postgresql:5432/registry as reg',
  );
  const refused = describeStartError(
    dsn,
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  );
  assert.match(refused.message, /cannot use PostgreSQL at db\.internal:6543\/registry/);
  assert.match(refused.hint, /start the database or fix metadata\.postgres\.dsn/);
  const login = describeStartError(
    dsn,
    Object.assign(new Error('password authentication failed for user "reg"'), { code: '28P01' }),
  );
  assert.match(login.message, /refused the login/);
  assert.match(login.hint, /credentials/);
  for (const d of [refused, login]) assert.doesNotMatch(d.message + d.hint, /s3cret/);
});
