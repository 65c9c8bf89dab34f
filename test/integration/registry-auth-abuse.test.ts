// Token auth under abuse: the admin GC endpoint needs the registry:gc:* grant and its report
// hides what the caller may not see; password checks run off the event loop; failed logins are
// rate limited per user and per address (429 + Retry-After); refresh tokens die with a password
// change, a grant change or a remove and re-add; a hostile Host header cannot reach the
// challenge; /token signs nothing for invalid repository names. `tsregistry gc` logs in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import {
  expectOciError,
  makeImage,
  pushBlob,
  pushImage,
  run,
  spawnRegistry,
  startRegistry,
  tsregistryBin,
  type TestRegistry,
  basic,
} from '../helpers/registry-server.js';
import { UsersFile } from '../../registry/auth/users.js';
import { parseChallenge } from '../../shared/client/auth.js';

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry({
    auth: {
      users: {
        admin: { password: 'adminpw' },
        alice: { password: 'alicepw', access: ['repository:team-a/*:pull,push'] },
        janitor: { password: 'janitorpw', access: ['registry:gc:*', 'repository:team-a/*:pull'] },
        bob: { password: 'bobpw', access: ['repository:bob/*:pull'] },
        carol: { password: 'carolpw', access: ['repository:carol/*:pull'] },
      },
    },
    configure: (c) => {
      c.auth!.token.loginlimit = { enabled: true, peruser: 3, peraddress: 1000, window: 600 };
    },
  });
});
after(async () => {
  await reg.close();
});

async function tokenFor(user: string, password: string, ...scopes: string[]): Promise<string> {
  const q = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
  const res = await fetch(`${reg.url}/token?service=tsregistry&${q}`, {
    headers: { Authorization: basic(user, password) },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

function accessOf(jwt: string): unknown {
  return (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { access: [] })
    .access;
}

function postToken(body: Record<string, string>): Promise<Response> {
  return fetch(`${reg.url}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
}

interface GcReply {
  manifestsDeleted: Array<{ repo: string; digest: string }>;
  blobsDeleted: string[];
  hidden: { manifests: number; blobs: number };
}

test('POST /admin/gc needs the registry:gc:* grant; the report hides what the caller may not see', async () => {
  const admin = await tokenFor('admin', 'adminpw', 'repository:team-a/x:pull,push');
  const adminB = await tokenFor('admin', 'adminpw', 'repository:team-b/y:pull,push');
  // Untagged manifests in two repositories, and a blob no manifest references.
  const a = makeImage([64]);
  const b = makeImage([65]);
  await pushImage(reg.url, 'team-a/x', a.digest, a, { Authorization: `Bearer ${admin}` });
  await pushImage(reg.url, 'team-b/y', b.digest, b, { Authorization: `Bearer ${adminB}` });
  await pushBlob(reg.url, 'team-b/y', Buffer.from('orphan blob'), {
    Authorization: `Bearer ${adminB}`,
  });
  const gc = (token?: string) =>
    fetch(`${reg.url}/admin/gc?dryRun=true&untagged=true&grace=0`, {
      method: 'POST',
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
  const anonymous = await gc();
  await expectOciError(anonymous, 'UNAUTHORIZED', 401);
  assert.match(anonymous.headers.get('www-authenticate')!, /scope="registry:gc:\*"/);
  // alice has no gc grant: her token never covers it.
  const alice = await tokenFor('alice', 'alicepw', 'registry:gc:*', 'repository:team-a/x:pull');
  assert.deepEqual(accessOf(alice), [{ type: 'repository', name: 'team-a/x', actions: ['pull'] }]);
  await expectOciError(await gc(alice), 'UNAUTHORIZED', 401);
  // janitor may collect, and see team-a/x only: team-b's manifest and every blob digest hidden.
  const janitor = await tokenFor(
    'janitor',
    'janitorpw',
    'registry:gc:*',
    'registry:catalog:*',
    'repository:team-a/x:pull',
    'repository:team-b/y:pull',
  );
  let res = await gc(janitor);
  assert.equal(res.status, 200);
  const limited = (await res.json()) as GcReply;
  assert.deepEqual(limited.manifestsDeleted, [{ repo: 'team-a/x', digest: a.digest }]);
  assert.deepEqual(limited.blobsDeleted, []);
  assert.equal(limited.hidden.manifests, 1);
  assert.ok(limited.hidden.blobs >= 1, JSON.stringify(limited));
  assert.doesNotMatch(JSON.stringify(limited), /team-b/);
  // The admin (default grants include registry:gc:* and registry:catalog:*) sees everything.
  const full = await tokenFor('admin', 'adminpw', 'registry:gc:*', 'registry:catalog:*');
  res = await gc(full);
  assert.equal(res.status, 200);
  const all = (await res.json()) as GcReply;
  assert.deepEqual(all.manifestsDeleted.map((m) => m.repo).sort(), ['team-a/x', 'team-b/y']);
  assert.ok(all.blobsDeleted.length >= 1);
  assert.deepEqual(all.hidden, { manifests: 0, blobs: 0 });
});

test('password checks run off the event loop (bcrypt is never called on the main thread)', async () => {
  const calls = { compareSync: 0, compare: 0 };
  const lib = bcrypt as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = { compareSync: lib.compareSync!, compare: lib.compare! };
  lib.compareSync = (...a) => (calls.compareSync++, saved.compareSync(...a));
  lib.compare = (...a) => (calls.compare++, saved.compare(...a));
  try {
    const ok = await fetch(`${reg.url}/token?scope=repository:bob/x:pull`, {
      headers: { Authorization: basic('bob', 'bobpw') },
    });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const replies = await Promise.all(
      Array.from({ length: 2 }, (_, i) =>
        fetch(`${reg.url}/token`, { headers: { Authorization: basic(`ghost${i}`, 'nope') } }),
      ),
    );
    for (const r of replies) await expectOciError(r, 'UNAUTHORIZED', 401);
    assert.deepEqual(calls, { compareSync: 0, compare: 0 });
  } finally {
    Object.assign(lib, saved);
  }
});

test('failed logins are rate limited per user: 429 TOOMANYREQUESTS with Retry-After', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${reg.url}/token`, { headers: { Authorization: basic('carol', 'x') } });
    await expectOciError(r, 'UNAUTHORIZED', 401);
  }
  for (const password of ['x', 'carolpw']) {
    const r = await fetch(`${reg.url}/token`, {
      headers: { Authorization: basic('carol', password) },
    });
    await expectOciError(r, 'TOOMANYREQUESTS', 429);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait > 0 && wait <= 600, `Retry-After ${wait}`);
  }
  const form = await postToken({ grant_type: 'password', username: 'carol', password: 'carolpw' });
  await expectOciError(form, 'TOOMANYREQUESTS', 429);
  // Other users are not affected.
  await tokenFor('bob', 'bobpw', 'repository:bob/x:pull');
});

test('failed logins are rate limited per client address', async () => {
  const limited = await startRegistry({
    auth: { users: { dave: { password: 'davepw' } } },
    configure: (c) => {
      c.auth!.token.loginlimit = { enabled: true, peruser: 0, peraddress: 4, window: 600 };
    },
  });
  try {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${limited.url}/token`, {
        headers: { Authorization: basic(`guess${i}`, 'x') },
      });
      await expectOciError(r, 'UNAUTHORIZED', 401);
    }
    const r = await fetch(`${limited.url}/token`, {
      headers: { Authorization: basic('dave', 'davepw') },
    });
    await expectOciError(r, 'TOOMANYREQUESTS', 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  } finally {
    await limited.close();
  }
});

test('refresh tokens stop working after a password change, a grant change, or remove + re-add', async () => {
  const users = new UsersFile(join(reg.root, 'auth', 'users.json'));
  users.add('erin', 'erinpw', ['repository:erin/*:pull']);
  const refresh = async (password: string): Promise<string> => {
    const r = await postToken({
      grant_type: 'password',
      username: 'erin',
      password,
      access_type: 'offline',
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { refresh_token: string }).refresh_token;
  };
  const use = (token: string) =>
    postToken({
      grant_type: 'refresh_token',
      refresh_token: token,
      scope: 'repository:erin/a:pull',
    });
  const first = await refresh('erinpw');
  assert.equal((await use(first)).status, 200);
  users.add('erin', 'erinpw2', ['repository:erin/*:pull']);
  await expectOciError(await use(first), 'UNAUTHORIZED', 401);
  const second = await refresh('erinpw2');
  assert.equal((await use(second)).status, 200);
  users.add('erin', 'erinpw2', ['repository:erin/*:pull,push']);
  await expectOciError(await use(second), 'UNAUTHORIZED', 401);
  const third = await refresh('erinpw2');
  users.remove('erin');
  await expectOciError(await use(third), 'UNAUTHORIZED', 401);
  users.add('erin', 'erinpw2', ['repository:erin/*:pull,push']);
  await expectOciError(await use(third), 'UNAUTHORIZED', 401);
  assert.equal((await use(await refresh('erinpw2'))).status, 200);
});

/** GET /v2/ with a raw Host header (fetch does not let a caller set one). */
function getWithHost(host: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(`${reg.url}/v2/`, { headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.headers['www-authenticate']);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a hostile Host header cannot inject into the WWW-Authenticate challenge', async () => {
  for (const host of ['evil.example.com/steal?x="', 'a"b,realm="http://evil', 'x y']) {
    const header = (await getWithHost(host))!;
    assert.doesNotMatch(header, /evil|steal|x y/, header);
    const ch = parseChallenge(header)!;
    assert.equal(ch.params.realm, `${reg.url}/token`, header);
    assert.equal(ch.params.service, 'tsregistry');
  }
  const plain = parseChallenge(await getWithHost('registry.example.com:5000'))!;
  assert.equal(plain.params.realm, 'http://registry.example.com:5000/token');
});

test('/token drops scopes with invalid repository names', async () => {
  const t = await tokenFor(
    'admin',
    'adminpw',
    'repository:team-a/../x:pull',
    'repository:team-a/*:pull',
    'repository:Team-A/x:pull',
    'repository:team-a/ok:pull,Bad!',
    'repository:team-a/ok:pull',
  );
  assert.deepEqual(accessOf(t), [{ type: 'repository', name: 'team-a/ok', actions: ['pull'] }]);
});

test(
  'tsregistry gc asks a running registry with auth as the logged-in user',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsreg-gc-cli-'));
    const root = join(dir, 'reg');
    new UsersFile(join(root, 'auth', 'users.json')).add('root', 'rootpw');
    new UsersFile(join(root, 'auth', 'users.json')).add('dev', 'devpw', ['repository:*:pull,push']);
    const child = await spawnRegistry(root, 'auth:\n  token:\n    service: tsregistry\n');
    try {
      const gc = (user: string, password: string) => {
        const config = join(dir, `tsdock-${user}`);
        mkdirSync(config, { recursive: true });
        writeFileSync(
          join(config, 'auth.json'),
          JSON.stringify({
            auths: {
              [child.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') },
            },
          }),
        );
        return run('env', [
          `TSDOCK_CONFIG=${config}`,
          `DOCKER_CONFIG=${config}`,
          process.execPath,
          tsregistryBin(),
          'gc',
          '--dry-run',
          '--config',
          join(root, 'config.yml'),
        ]);
      };
      let r = await gc('root', 'rootpw');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /would delete 0 blobs/);
      r = await gc('dev', 'devpw');
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /registry:gc:\*/);
    } finally {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** POST /admin/gc over a connection whose peer is not on loopback (a unix socket handed to the
 * registry's HTTP server: no remote address, like a client behind a local reverse proxy). */
async function gcFromElsewhere(target: TestRegistry, token: string): Promise<number> {
  const { createServer } = await import('node:net');
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-sock-'));
  const path = join(dir, 'sock');
  const relay = createServer((socket) => target.running.server.emit('connection', socket));
  await new Promise<void>((resolve) => relay.listen(path, resolve));
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: path,
          path: '/admin/gc?dryRun=true',
          method: 'POST',
          headers: { Host: target.host, Authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
  } finally {
    relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('loopback-only stays an extra condition of /admin/gc, and can be switched off', async () => {
  const full = await tokenFor('admin', 'adminpw', 'registry:gc:*');
  assert.equal(await gcFromElsewhere(reg, full), 403, 'a granted token from elsewhere is refused');
  const open = await startRegistry({
    auth: { users: { admin: { password: 'pw' } } },
    configure: (c) => {
      c.storage.maintenance.gc.loopbackonly = false;
    },
  });
  try {
    const res = await fetch(`${open.url}/token?scope=registry:gc:*`, {
      headers: { Authorization: basic('admin', 'pw') },
    });
    const token = ((await res.json()) as { token: string }).token;
    assert.equal(await gcFromElsewhere(open, token), 200);
    assert.equal(await gcFromElsewhere(open, 'not-a-token'), 401);
  } finally {
    await open.close();
  }
});
