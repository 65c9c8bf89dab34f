// Token auth end to end: challenges, the token service (GET with Basic, POST password and
// refresh_token grants), scope intersection with per-repository grants, anonymous pull, and
// refusal of expired, tampered, alg:none and wrongly scoped tokens; then skopeo --creds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expectOciError,
  makeImage,
  pushImage,
  run,
  startRegistry,
  writeOciLayout,
  type TestRegistry,
  basic,
} from '../helpers/registry-server.js';

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry({
    auth: {
      users: {
        admin: { password: 'adminpw' },
        alice: {
          password: 'alicepw',
          access: ['repository:team-a/*:pull,push', 'repository:shared/*:pull'],
        },
      },
      expiration: 60,
    },
  });
});
after(async () => {
  await reg.close();
});

async function token(user: string | undefined, password: string, scope: string): Promise<string> {
  const headers: Record<string, string> = user ? { Authorization: basic(user, password) } : {};
  const res = await fetch(
    `${reg.url}/token?service=tsregistry&scope=${encodeURIComponent(scope)}`,
    { headers },
  );
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

function claims(
  jwt: string,
): { access: Array<{ name: string; actions: string[] }> } & Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as ReturnType<
    typeof claims
  >;
}

test('401 carries the Bearer challenge with realm, service and scope', async () => {
  const res = await fetch(`${reg.url}/v2/team-a/app/manifests/v1`);
  await expectOciError(res, 'UNAUTHORIZED', 401);
  const challenge = res.headers.get('www-authenticate')!;
  assert.match(
    challenge,
    new RegExp(
      `^Bearer realm="${reg.url}/token",service="tsregistry",scope="repository:team-a/app:pull"$`,
    ),
  );
  const ping = await fetch(`${reg.url}/v2/`);
  assert.equal(ping.status, 401);
});

test('tokens grant the intersection of asked and allowed; kid and claims present', async () => {
  const t = await token('alice', 'alicepw', 'repository:team-a/app:pull,push,delete');
  const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as {
    alg: string;
    kid: string;
  };
  assert.equal(header.alg, 'ES256');
  assert.match(header.kid, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  const c = claims(t);
  for (const k of ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']) assert.ok(k in c, k);
  assert.deepEqual(c.access, [
    { type: 'repository', name: 'team-a/app', actions: ['pull', 'push'] },
  ]);
  assert.deepEqual(
    claims(await token('alice', 'alicepw', 'repository:shared/base:pull,push')).access,
    [{ type: 'repository', name: 'shared/base', actions: ['pull'] }],
  );
  assert.deepEqual(claims(await token('alice', 'alicepw', 'repository:other/x:pull')).access, []);
  assert.deepEqual(claims(await token(undefined, '', 'repository:team-a/app:pull')).access, []);
  const bad = await fetch(`${reg.url}/token?scope=repository:team-a/app:pull`, {
    headers: { Authorization: basic('alice', 'wrong') },
  });
  await expectOciError(bad, 'UNAUTHORIZED', 401);
});

test('push and pull with a token; wrong scope, tampered, alg none and expired tokens refused', async () => {
  const t = await token('alice', 'alicepw', 'repository:team-a/app:pull,push');
  const img = makeImage([100]);
  await pushImage(reg.url, 'team-a/app', 'v1', img, { Authorization: `Bearer ${t}` });
  const ok = await fetch(`${reg.url}/v2/team-a/app/manifests/v1`, {
    headers: { Authorization: `Bearer ${t}` },
  });
  assert.equal(ok.status, 200);
  // Same token, another repository: insufficient scope.
  const other = await fetch(`${reg.url}/v2/team-b/app/manifests/v1`, {
    headers: { Authorization: `Bearer ${t}` },
  });
  await expectOciError(other, 'UNAUTHORIZED', 401);
  assert.match(other.headers.get('www-authenticate')!, /error="insufficient_scope"/);
  // Pull-only token cannot delete.
  const pullOnly = await token('alice', 'alicepw', 'repository:team-a/app:pull');
  const del = await fetch(`${reg.url}/v2/team-a/app/manifests/v1`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${pullOnly}` },
  });
  assert.equal(del.status, 401);
  await del.arrayBuffer();
  // Tampered payload: grant everything, keep the signature.
  const [h, , s] = t.split('.');
  const forged = Buffer.from(
    JSON.stringify({
      ...claims(t),
      access: [{ type: 'repository', name: 'team-b/app', actions: ['pull'] }],
    }),
  ).toString('base64url');
  const r1 = await fetch(`${reg.url}/v2/team-b/app/manifests/v1`, {
    headers: { Authorization: `Bearer ${h}.${forged}.${s}` },
  });
  assert.equal(r1.status, 401);
  assert.match(r1.headers.get('www-authenticate')!, /invalid_token/);
  await r1.arrayBuffer();
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${forged}.`;
  const r2 = await fetch(`${reg.url}/v2/team-b/app/manifests/v1`, {
    headers: { Authorization: `Bearer ${none}` },
  });
  assert.equal(r2.status, 401);
  await r2.arrayBuffer();
  const expired = Buffer.from(
    JSON.stringify({ ...claims(t), exp: Math.floor(Date.now() / 1000) - 10 }),
  ).toString('base64url');
  const r3 = await fetch(`${reg.url}/v2/team-a/app/manifests/v1`, {
    headers: { Authorization: `Bearer ${h}.${expired}.${s}` },
  });
  assert.equal(r3.status, 401);
  await r3.arrayBuffer();
});

test('POST /token: password grant with refresh token, then refresh_token grant', async () => {
  const form = (body: Record<string, string>) =>
    fetch(`${reg.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
  const res = await form({
    grant_type: 'password',
    username: 'admin',
    password: 'adminpw',
    service: 'tsregistry',
    client_id: 'test',
    access_type: 'offline',
    scope: 'registry:catalog:*',
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  assert.ok(body.refresh_token);
  const cat = await fetch(`${reg.url}/v2/_catalog`, {
    headers: { Authorization: `Bearer ${body.access_token}` },
  });
  assert.equal(cat.status, 200);
  await cat.arrayBuffer();
  const again = await form({
    grant_type: 'refresh_token',
    refresh_token: body.refresh_token,
    service: 'tsregistry',
    scope: 'repository:x/y:pull',
  });
  assert.equal(again.status, 200);
  assert.deepEqual(claims(((await again.json()) as { access_token: string }).access_token).access, [
    { type: 'repository', name: 'x/y', actions: ['pull'] },
  ]);
  // A refresh token is not an access token.
  const misuse = await fetch(`${reg.url}/v2/_catalog`, {
    headers: { Authorization: `Bearer ${body.refresh_token}` },
  });
  assert.equal(misuse.status, 401);
  await misuse.arrayBuffer();
  await expectOciError(
    await form({ grant_type: 'password', username: 'admin', password: 'no' }),
    'UNAUTHORIZED',
    401,
  );
});

test('anonymous pull switch', async () => {
  const anon = await startRegistry({
    auth: { users: { admin: { password: 'pw' } }, anonymousPull: true },
  });
  try {
    const t = await (
      await fetch(`${anon.url}/token?scope=repository:pub/app:pull,push`, {
        headers: { Authorization: basic('admin', 'pw') },
      })
    ).json();
    await pushImage(anon.url, 'pub/app', 'v1', makeImage([10]), {
      Authorization: `Bearer ${(t as { token: string }).token}`,
    });
    assert.equal((await fetch(`${anon.url}/v2/pub/app/manifests/v1`)).status, 200);
    const push = await fetch(`${anon.url}/v2/pub/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(push.status, 401);
    await push.arrayBuffer();
  } finally {
    await anon.close();
  }
});

test('skopeo --creds copies in and out; wrong password fails', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-skopeo-'));
  try {
    writeOciLayout(join(dir, 'layout'), 'v1', makeImage([200_000]));
    const copy = (creds: string, src: string, dst: string) =>
      run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        '--src-creds',
        creds,
        src,
        dst,
      ]);
    let r = await copy(
      'alice:alicepw',
      `oci:${join(dir, 'layout')}:v1`,
      `docker://${reg.host}/team-a/skopeo:v1`,
    );
    assert.equal(r.status, 0, r.stderr);
    r = await copy(
      'alice:alicepw',
      `docker://${reg.host}/team-a/skopeo:v1`,
      `oci:${join(dir, 'out')}:v1`,
    );
    assert.equal(r.status, 0, r.stderr);
    r = await copy(
      'alice:wrong',
      `oci:${join(dir, 'layout')}:v1`,
      `docker://${reg.host}/team-a/skopeo:v2`,
    );
    assert.notEqual(r.status, 0);
    r = await copy(
      'alice:alicepw',
      `oci:${join(dir, 'layout')}:v1`,
      `docker://${reg.host}/team-b/skopeo:v1`,
    );
    assert.notEqual(r.status, 0, 'alice may not push to team-b');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'podman login succeeds with the right password and fails with a wrong one',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsreg-podman-'));
    try {
      const authfile = join(dir, 'auth.json');
      const login = (password: string) =>
        run(
          'podman',
          [
            'login',
            '--authfile',
            authfile,
            '--tls-verify=false',
            '-u',
            'alice',
            '--password-stdin',
            reg.host,
          ],
          { input: `${password}\n` },
        );
      let r = await login('alicepw');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Login Succeeded/);
      r = await login('nope');
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /invalid username\/password|unauthorized/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
