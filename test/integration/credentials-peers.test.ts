// Credentials files shared with real peers: skopeo reads the auth.json we write, and we read
// what `skopeo login` writes after logging in to the reference registry with htpasswd.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentials, removeCredentials, saveCredentials } from '../../shared/credentials.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { requirePeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsdock-cred-peers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
process.env['TSDOCK_CONFIG'] = join(dir, 'tsdock');
process.env['DOCKER_CONFIG'] = join(dir, 'docker');
const authFile = join(dir, 'tsdock', 'auth.json');

function skopeo(...args: string[]) {
  return spawnSync('skopeo', args, { encoding: 'utf8', timeout: 30_000 });
}

test('skopeo reads and edits the auth.json tslogin writes', async (t) => {
  if (!requirePeer(t, 'skopeo')) return;
  await saveCredentials('127.0.0.1:5999', 'alice', 'pw');
  await saveCredentials('docker.io', 'hub', 'pw2');
  let r = skopeo('login', '--get-login', '--authfile', authFile, '127.0.0.1:5999');
  assert.equal(r.stdout.trim(), 'alice', r.stderr);
  r = skopeo('login', '--get-login', '--authfile', authFile, 'docker.io');
  assert.equal(r.stdout.trim(), 'hub', r.stderr);
  r = skopeo('logout', '--authfile', authFile, '127.0.0.1:5999');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await loadCredentials('127.0.0.1:5999'), undefined);
  assert.deepEqual(await loadCredentials('docker.io'), { username: 'hub', password: 'pw2' });
});

test('we read what skopeo login writes after a real htpasswd login', async (t) => {
  if (!requirePeer(t, 'skopeo', 'docker-registry', 'htpasswd')) return;
  const reg = await startReferenceRegistry({
    auth: { kind: 'htpasswd', users: { carol: 's3cret:x' } },
  });
  try {
    const file = join(dir, 'docker', 'config.json');
    const bad = skopeo(
      'login',
      '--tls-verify=false',
      '--authfile',
      file,
      '-u',
      'carol',
      '-p',
      'wrong',
      reg.host,
    );
    assert.notEqual(bad.status, 0, 'a wrong password is refused by the registry');
    const r = skopeo(
      'login',
      '--tls-verify=false',
      '--authfile',
      file,
      '-u',
      'carol',
      '-p',
      's3cret:x',
      reg.host,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(file, 'utf8').includes(reg.host));
    // Docker's config.json (here written by skopeo) is read when auth.json has nothing.
    assert.deepEqual(await loadCredentials(reg.host), {
      username: 'carol',
      password: 's3cret:x',
    });
    assert.equal(await removeCredentials(reg.host), false, 'logout only edits auth.json');
  } finally {
    await reg.close();
  }
});
