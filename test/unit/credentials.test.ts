// Credentials: tsdock's auth.json and Docker's config.json (auths keys as hosts, URLs or Docker
// Hub's legacy URL), credential helpers, atomic 0600 writes that keep other entries, logout.
import { test, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import {
  authFilePath,
  authKey,
  dockerConfigPath,
  loadCredentials,
  removeCredentials,
  saveCredentials,
} from '../../shared/credentials.js';
import { InvalidInputError } from '../../shared/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tsdock-creds-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let cfg = '';
let docker = '';

beforeEach(() => {
  n++;
  cfg = join(root, `cfg${n}`, 'tsdock');
  docker = join(root, `docker${n}`);
  process.env['TSDOCK_CONFIG'] = cfg;
  process.env['DOCKER_CONFIG'] = docker;
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function writeDocker(config: unknown): void {
  mkdirSync(docker, { recursive: true });
  writeFileSync(join(docker, 'config.json'), JSON.stringify(config));
}

test('nothing configured: undefined', async () => {
  assert.equal(await loadCredentials('127.0.0.1:5000'), undefined);
  assert.equal(authFilePath(), join(cfg, 'auth.json'));
  assert.equal(dockerConfigPath(), join(docker, 'config.json'));
});

test('save then load, mode 0600, base64 auth, other entries kept', async () => {
  mkdirSync(cfg, { recursive: true });
  writeFileSync(
    join(cfg, 'auth.json'),
    JSON.stringify({ auths: { 'other.io': { auth: b64('o:p') } }, psFormat: 'x' }),
  );
  await saveCredentials('127.0.0.1:5000', 'alice', 'pa:ss word');
  const file = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.equal(file.auths['127.0.0.1:5000'].auth, b64('alice:pa:ss word'));
  assert.equal(file.auths['other.io'].auth, b64('o:p'));
  assert.equal(file.psFormat, 'x');
  assert.equal(statSync(join(cfg, 'auth.json')).mode & 0o777, 0o600);
  assert.deepEqual(await loadCredentials('127.0.0.1:5000'), {
    username: 'alice',
    password: 'pa:ss word',
  });
  assert.deepEqual(await loadCredentials('other.io'), { username: 'o', password: 'p' });
  // A second login replaces the entry, even if it was stored under a URL key.
  await saveCredentials('http://127.0.0.1:5000/v2/', 'bob', 'x');
  const again = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.deepEqual(Object.keys(again.auths).sort(), ['127.0.0.1:5000', 'other.io']);
  assert.deepEqual(await loadCredentials('127.0.0.1:5000'), { username: 'bob', password: 'x' });
});

test('creates the config dir 0700', async () => {
  await saveCredentials('r.io', 'u', 'p');
  assert.equal(statSync(cfg).mode & 0o777, 0o700);
});

test('Docker Hub uses the legacy URL key and every alias finds it', async () => {
  assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(authKey('localhost:5000'), 'localhost:5000');
  await saveCredentials('docker.io', 'hub', 'secret');
  const file = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.deepEqual(Object.keys(file.auths), ['https://index.docker.io/v1/']);
  for (const alias of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
    assert.deepEqual(await loadCredentials(alias), { username: 'hub', password: 'secret' });
  }
});

test("Docker's config.json is read: URL keys, username/password, identity tokens", async () => {
  writeDocker({
    auths: {
      'https://127.0.0.1:5000': { auth: b64('d:1') },
      'registry.example.com/v1/': { username: 'u', password: 'p' },
      'tok.io': { identitytoken: 'refresh-me' },
      'empty.io': {},
    },
  });
  assert.deepEqual(await loadCredentials('127.0.0.1:5000'), { username: 'd', password: '1' });
  assert.deepEqual(await loadCredentials('registry.example.com'), { username: 'u', password: 'p' });
  assert.deepEqual(await loadCredentials('tok.io'), { identitytoken: 'refresh-me' });
  assert.equal(await loadCredentials('empty.io'), undefined);
  assert.equal(await loadCredentials('127.0.0.1:5001'), undefined);
});

test('auth.json wins over Docker config; Docker config fills gaps', async () => {
  writeDocker({ auths: { 'a.io': { auth: b64('docker:1') }, 'b.io': { auth: b64('docker:2') } } });
  await saveCredentials('a.io', 'ts', '1');
  assert.deepEqual(await loadCredentials('a.io'), { username: 'ts', password: '1' });
  assert.deepEqual(await loadCredentials('b.io'), { username: 'docker', password: '2' });
});

test('credential helpers (credHelpers, credsStore); a missing helper is ignored', async () => {
  const bin = join(root, `bin${n}`);
  mkdirSync(bin);
  // The helper echoes back the server it was asked about, so the test sees what it got.
  const helper = join(bin, 'docker-credential-fake');
  writeFileSync(
    helper,
    '#!/bin/sh\n[ "$1" = get ] || exit 1\nread -r s\n' +
      'case "$s" in none.io) echo "credentials not found" >&2; exit 1;; ' +
      'tok.io) printf \'{"ServerURL":"%s","Username":"<token>","Secret":"T"}\' "$s";; ' +
      '*) printf \'{"ServerURL":"%s","Username":"%s","Secret":"S"}\' "$s" "$s";; esac\n',
  );
  chmodSync(helper, 0o755);
  const oldPath = process.env['PATH'];
  process.env['PATH'] = `${bin}:${oldPath}`;
  try {
    writeDocker({ credHelpers: { 'h.io': 'fake', 'tok.io': 'fake', 'none.io': 'fake' } });
    assert.deepEqual(await loadCredentials('h.io'), { username: 'h.io', password: 'S' });
    assert.deepEqual(await loadCredentials('tok.io'), { identitytoken: 'T' });
    assert.equal(await loadCredentials('none.io'), undefined);
    assert.equal(await loadCredentials('other.io'), undefined);
    writeDocker({ credsStore: 'fake' });
    assert.deepEqual(await loadCredentials('docker.io'), {
      username: 'https://index.docker.io/v1/',
      password: 'S',
    });
    writeDocker({ credsStore: 'not-installed', auths: { 'x.io': { auth: b64('a:b') } } });
    assert.deepEqual(await loadCredentials('x.io'), { username: 'a', password: 'b' });
    assert.equal(await loadCredentials('y.io'), undefined);
  } finally {
    process.env['PATH'] = oldPath;
  }
});

test('concurrent logins all land (auth.json is locked while edited)', async () => {
  const hosts = Array.from({ length: 12 }, (_, i) => `r${i}.io`);
  await Promise.all(hosts.map((h) => saveCredentials(h, `u-${h}`, 'p')));
  const file = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.deepEqual(Object.keys(file.auths).sort(), [...hosts].sort());
  await Promise.all(hosts.slice(0, 6).map((h) => removeCredentials(h)));
  const left = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.deepEqual(Object.keys(left.auths).sort(), hosts.slice(6).sort());
  assert.deepEqual(readdirSync(cfg).sort(), ['auth.json']);
});

test('removeCredentials removes every alias and keeps the rest', async () => {
  assert.equal(await removeCredentials('a.io'), false);
  await saveCredentials('a.io', 'u', 'p');
  await saveCredentials('b.io', 'u', 'p');
  await saveCredentials('docker.io', 'u', 'p');
  assert.equal(await removeCredentials('a.io'), true);
  assert.equal(await removeCredentials('a.io'), false);
  assert.equal(await removeCredentials('index.docker.io'), true);
  assert.equal(await loadCredentials('a.io'), undefined);
  assert.deepEqual(await loadCredentials('b.io'), { username: 'u', password: 'p' });
  const file = JSON.parse(readFileSync(join(cfg, 'auth.json'), 'utf8'));
  assert.deepEqual(Object.keys(file.auths), ['b.io']);
  assert.equal(statSync(join(cfg, 'auth.json')).mode & 0o777, 0o600);
});

test('bad files and inputs give one-line errors without secrets', async () => {
  writeDocker({ auths: { 'x.io': { auth: b64('no-colon-secret') } } });
  await assert.rejects(loadCredentials('x.io'), (e: unknown) => {
    assert.ok(e instanceof InvalidInputError);
    assert.match(e.message, /config\.json: auths\["x\.io"\]\.auth is not base64 of user:password/);
    assert.doesNotMatch(e.toLine(), /no-colon-secret/);
    return true;
  });
  mkdirSync(docker, { recursive: true });
  writeFileSync(join(docker, 'config.json'), '{"auths": ');
  await assert.rejects(loadCredentials('x.io'), /config\.json: invalid JSON/);
  writeFileSync(join(docker, 'config.json'), '[]');
  await assert.rejects(loadCredentials('x.io'), /config\.json: must be a JSON object/);
  writeFileSync(join(docker, 'config.json'), '');
  assert.equal(await loadCredentials('x.io'), undefined);
  await assert.rejects(saveCredentials('x.io', 'a:b', 'p'), /username must not contain ":"/);
});
