// Docker's daemon and CLI against tsregistry with token auth: docker login (right and wrong
// password), docker pull of an image pushed with skopeo, docker tag + push to another
// repository, and a pull of that back; the identity (refresh) token docker login keeps stops
// working when the password changes; wrong logins past the limit lock the user out (429).
// tsregistry runs as a child process because the docker CLI helper is synchronous. Skipped with
// a reason when dockerd cannot run here (not root).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import {
  makeImage,
  run,
  tarLayer,
  spawnRegistry,
  writeOciLayout,
  type RegistryProcess,
} from '../helpers/registry-server.js';
import { UsersFile } from '../../registry/auth/users.js';
import { peerUnavailable } from '../helpers/peers.js';

let dir: string;
let reg: RegistryProcess | undefined;
let dockerd: Dockerd | undefined;
let skip: string | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsreg-docker-'));
  const root = join(dir, 'reg');
  const users = new UsersFile(join(root, 'auth', 'users.json'));
  users.add('dev', 'devpw', ['repository:dev/*:pull,push']);
  users.add('ops', 'opspw', ['repository:dev/*:pull']);
  users.add('mallory', 'mallorypw', ['repository:dev/*:pull']);
  reg = await spawnRegistry(
    root,
    'auth:\n  token:\n    service: tsregistry\n    issuer: tsregistry\n    loginlimit:\n      peruser: 3\n',
  );
  const started = await startDockerd({ insecureRegistries: [reg.host] });
  if (started.ok) dockerd = started.dockerd;
  else skip = started.reason;
});
after(async () => {
  await dockerd?.close();
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('docker login, pull, tag and push against tsregistry', { timeout: 180_000 }, async (t) => {
  if (!dockerd || !reg) return peerUnavailable(t, skip ?? 'the registry did not start');
  const layout = join(dir, 'layout');
  writeOciLayout(layout, 'v1', makeImage([await tarLayer('hello.txt', 'hello from tsregistry\n')]));
  const copy = await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    'dev:devpw',
    `oci:${layout}:v1`,
    `docker://${reg.host}/dev/base:v1`,
  ]);
  assert.equal(copy.status, 0, copy.stderr);
  let r = dockerd.docker(['login', '-u', 'dev', '--password-stdin', reg.host], {
    input: 'wrong\n',
  });
  assert.notEqual(r.status, 0, 'wrong password refused');
  r = dockerd.docker(['login', '-u', 'dev', '--password-stdin', reg.host], { input: 'devpw\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Login Succeeded/);
  r = dockerd.docker(['pull', `${reg.host}/dev/base:v1`]);
  assert.equal(r.status, 0, r.stderr);
  r = dockerd.docker(['tag', `${reg.host}/dev/base:v1`, `${reg.host}/dev/copy:v2`]);
  assert.equal(r.status, 0, r.stderr);
  r = dockerd.docker(['push', `${reg.host}/dev/copy:v2`]);
  assert.equal(r.status, 0, r.stderr);
  r = dockerd.docker(['rmi', `${reg.host}/dev/copy:v2`, `${reg.host}/dev/base:v1`]);
  assert.equal(r.status, 0, r.stderr);
  r = dockerd.docker(['pull', `${reg.host}/dev/copy:v2`]);
  assert.equal(r.status, 0, r.stderr);
  // Outside the user's grants: push refused.
  dockerd.docker(['tag', `${reg.host}/dev/copy:v2`, `${reg.host}/other/x:v1`]);
  r = dockerd.docker(['push', `${reg.host}/other/x:v1`]);
  assert.notEqual(r.status, 0);
});

test(
  'docker login: its identity token dies with a password change; repeated wrong logins get 429',
  { timeout: 180_000 },
  async (t) => {
    if (!dockerd || !reg) return peerUnavailable(t, skip ?? 'the registry did not start');
    let r = dockerd.docker(['login', '-u', 'ops', '--password-stdin', reg.host], {
      input: 'opspw\n',
    });
    assert.equal(r.status, 0, r.stderr);
    const saved = JSON.parse(
      readFileSync(join(dockerd.env.DOCKER_CONFIG!, 'config.json'), 'utf8'),
    ) as { auths: Record<string, { identitytoken?: string }> };
    assert.ok(saved.auths[reg.host]?.identitytoken, 'docker login kept a refresh token');
    r = dockerd.docker(['pull', `${reg.host}/dev/base:v1`]);
    assert.equal(r.status, 0, r.stderr);
    dockerd.docker(['rmi', `${reg.host}/dev/base:v1`]);
    new UsersFile(join(dir, 'reg', 'auth', 'users.json')).add('ops', 'opspw-new', [
      'repository:dev/*:pull',
    ]);
    r = dockerd.docker(['pull', `${reg.host}/dev/base:v1`]);
    assert.notEqual(r.status, 0, 'the old identity token must not pull after a password change');
    // Three wrong passwords lock mallory out, even with the right one.
    for (let i = 0; i < 3; i++) {
      r = dockerd.docker(['login', '-u', 'mallory', '--password-stdin', reg.host], {
        input: 'guess\n',
      });
      assert.notEqual(r.status, 0);
    }
    r = dockerd.docker(['login', '-u', 'mallory', '--password-stdin', reg.host], {
      input: 'mallorypw\n',
    });
    assert.notEqual(r.status, 0, 'locked out');
    assert.match(r.stderr, /429|too many/i);
  },
);
