// Pure pieces of the registry: config loading with env overrides, scope parsing, grant
// patterns and their intersection with asked access, the OCI error table, paths and keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../registry/config.js';
import { parseScope, parseScopes, AuthChallenge } from '../../registry/auth/access.js';
import { allowedAccess, globMatch } from '../../registry/auth/users.js';
import { ErrorCodes, RegistryError, toRegistryError } from '../../registry/errors.js';
import { blobDataPath, digestFromBlobPath, uploadDataPath } from '../../registry/paths.js';
import { keys, splitRepoKey } from '../../registry/metadata/keys.js';
import { DigestMismatchError, InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { parseDigest } from '../../shared/digest.js';
import { parseManifest } from '../../shared/manifest.js';
import { parseRepositoryName, parseTag } from '../../shared/reference.js';
import { PathNotFoundError } from '../../registry/storage/driver.js';
import { libtrustKid } from '../../registry/auth/keys.js';
import { generateKeyPairSync } from 'node:crypto';

test('config: file shaped like the reference registry, env overrides, defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-cfg-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(
      file,
      'version: 0.1\nlog:\n  level: debug\nstorage:\n  filesystem:\n    rootdirectory: /srv/reg\n  delete:\n    enabled: false\nhttp:\n  addr: 127.0.0.1:6000\n',
    );
    const c = loadConfig(file, {
      REGISTRY_HTTP_ADDR: '127.0.0.1:7000',
      REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL: '2h',
    });
    assert.equal(c.http.addr, '127.0.0.1:7000');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.storage.filesystem.rootdirectory, '/srv/reg');
    assert.equal(c.storage.delete.enabled, false);
    assert.equal(c.storage.maintenance.gc.interval, 7200);
    assert.equal(c.auth, undefined, 'a file without auth serves without authentication');
    const withAuth = loadConfig(file, { REGISTRY_AUTH_TOKEN_REALM: 'https://r.example/token' });
    assert.equal(withAuth.auth?.token.realm, 'https://r.example/token');
    assert.equal(withAuth.auth?.token.service, 'tsregistry');
    const embedded = loadConfig(undefined, {});
    assert.equal(embedded.http.addr, '127.0.0.1:5000');
    assert.ok(embedded.auth, 'no file: token auth on');
    writeFileSync(file, 'http:\n  addr: nonsense\n');
    assert.throws(() => loadConfig(file, {}), /config: http\.addr: expected host:port/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scopes parse, with ports in names and several per value', () => {
  assert.deepEqual(parseScope('repository:team-a/app:pull,push'), {
    type: 'repository',
    name: 'team-a/app',
    actions: ['pull', 'push'],
  });
  assert.deepEqual(parseScope('repository:localhost:5000/app:pull'), {
    type: 'repository',
    name: 'localhost:5000/app',
    actions: ['pull'],
  });
  assert.deepEqual(parseScope('registry:catalog:*'), {
    type: 'registry',
    name: 'catalog',
    actions: ['*'],
  });
  assert.equal(parseScope('garbage'), undefined);
  assert.equal(parseScopes(['repository:a:pull repository:b:push', 'x']).length, 2);
});

test('grants: patterns and the intersection of asked and allowed', () => {
  assert.ok(globMatch('team-a/*', 'team-a/app'));
  assert.ok(globMatch('team-a/*', 'team-a/x/y'));
  assert.ok(!globMatch('team-a/*', 'team-ab/app'));
  assert.ok(!globMatch('a.b', 'axb'), 'dots are literal');
  const grants = ['repository:team-a/*:pull,push', 'repository:*:pull'];
  assert.deepEqual(
    allowedAccess(grants, [
      { type: 'repository', name: 'team-a/app', actions: ['pull', 'push', 'delete'] },
      { type: 'repository', name: 'other', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]),
    [{ type: 'repository', name: 'team-a/app', actions: ['pull', 'push'] }],
  );
});

test('challenge header names realm, service and scope', () => {
  const c = new AuthChallenge(
    'http://h/token',
    'svc',
    [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }],
    'insufficient_scope',
  );
  assert.equal(c.status, 401);
  assert.equal(
    c.headers['WWW-Authenticate'],
    'Bearer realm="http://h/token",service="svc",scope="repository:a/b:pull,push",error="insufficient_scope"',
  );
});

test('errors: table, body shape, mapping of domain errors', () => {
  assert.equal(ErrorCodes.BLOB_UNKNOWN.status, 404);
  assert.equal(ErrorCodes.DENIED.status, 403);
  const e = new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: 'x' });
  assert.deepEqual(JSON.parse(e.body()), {
    errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { tag: 'x' } }],
  });
  assert.equal(
    toRegistryError(new DigestMismatchError('sha256:a', 'sha256:b')).code,
    'DIGEST_INVALID',
  );
  // Each domain error keeps its own code (not every bad input a DIGEST_INVALID, nor every
  // missing thing a BLOB_UNKNOWN).
  const cases: Array<[unknown, string, number]> = [
    [catching(() => parseDigest('sha256:12')), 'DIGEST_INVALID', 400],
    [catching(() => parseManifest(Buffer.from('{"schemaVersion":3}'))), 'MANIFEST_INVALID', 400],
    [catching(() => parseRepositoryName('UP/per')), 'NAME_INVALID', 400],
    [catching(() => parseTag('.dot')), 'TAG_INVALID', 400],
    [new PathNotFoundError('blobs/x'), 'BLOB_UNKNOWN', 404],
    [new NotFoundError('no such user'), 'UNSUPPORTED', 404],
    [new InvalidInputError('bad'), 'UNSUPPORTED', 400],
  ];
  for (const [err, code, status] of cases) {
    const mapped = toRegistryError(err);
    assert.deepEqual([mapped.code, mapped.status], [code, status], String(err));
  }
  assert.equal(toRegistryError(new Error('boom')).code, 'UNKNOWN');
  assert.equal(toRegistryError(new Error('boom')).message, 'internal error', 'no internals leak');
});

test('paths and metadata keys', () => {
  const d = `sha256:${'ab'.repeat(32)}`;
  assert.equal(blobDataPath(d), `/blobs/sha256/ab/${'ab'.repeat(32)}/data`);
  assert.equal(digestFromBlobPath(blobDataPath(d)), d);
  assert.throws(() => blobDataPath('sha256:../../etc'));
  assert.throws(() => uploadDataPath('../x'));
  assert.deepEqual(splitRepoKey(keys.tag('a/b', 'v1')), { repo: 'a/b', last: 'v1' });
  assert.ok(
    !keys.tag('a/b', 'v1').startsWith(keys.tagPrefix('a')),
    'repo a does not list a/b tags',
  );
});

test('libtrust kid: 12 groups of 4 base32 characters', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.match(libtrustKid(publicKey), /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
