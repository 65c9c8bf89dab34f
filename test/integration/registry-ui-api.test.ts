// The endpoints behind the web console, over plain HTTP: the console's sign-in session
// (`client_id=tsregistry-ui`: an 8-hour refresh token that refreshing never extends, ended by a
// password reset), user administration behind `registry:users:*`, and storage use with shared
// blobs counted once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  basic,
  expectOciError,
  makeImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry({
    auth: {
      users: {
        admin: { password: 'adminpw' },
        bob: { password: 'bobpw', access: ['repository:team-a/*:pull', 'registry:catalog:*'] },
      },
    },
  });
});
after(async () => {
  await reg.close();
});

async function postToken(form: Record<string, string>): Promise<Response> {
  return await fetch(`${reg.url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ service: 'tsregistry', ...form }),
  });
}

function claims(jwt: string): { iat: number; exp: number; access?: unknown[] } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as ReturnType<
    typeof claims
  >;
}

async function bearer(user: string, password: string, scope: string): Promise<string> {
  const res = await fetch(
    `${reg.url}/token?service=tsregistry&scope=${encodeURIComponent(scope)}`,
    {
      headers: { Authorization: basic(user, password) },
    },
  );
  assert.equal(res.status, 200);
  return `Bearer ${((await res.json()) as { token: string }).token}`;
}

test('a console session lasts 8 hours, is never extended, and ends with a password reset', async () => {
  const ui = await postToken({
    grant_type: 'password',
    username: 'bob',
    password: 'bobpw',
    client_id: 'tsregistry-ui',
  });
  assert.equal(ui.status, 200);
  const session = ((await ui.json()) as { refresh_token: string }).refresh_token;
  const c = claims(session);
  assert.equal(c.exp - c.iat, 8 * 3600);
  // docker's own clients keep their 30-day refresh tokens.
  const cli = await postToken({ grant_type: 'password', username: 'bob', password: 'bobpw' });
  const long = claims(((await cli.json()) as { refresh_token: string }).refresh_token);
  assert.equal(long.exp - long.iat, 30 * 24 * 3600);
  // Refreshing gives an access token of the scope asked, and no new (longer) session.
  const refreshed = await postToken({
    grant_type: 'refresh_token',
    refresh_token: session,
    client_id: 'tsregistry-ui',
    scope: 'repository:team-a/app:pull,delete',
  });
  assert.equal(refreshed.status, 200);
  const body = (await refreshed.json()) as { access_token: string; refresh_token?: string };
  assert.equal(body.refresh_token, undefined);
  assert.deepEqual(claims(body.access_token).access, [
    { type: 'repository', name: 'team-a/app', actions: ['pull'] },
  ]);
  // An admin resets bob's password: the session stops working.
  const reset = await fetch(`${reg.url}/admin/users/bob/password`, {
    method: 'PUT',
    headers: {
      Authorization: await bearer('admin', 'adminpw', 'registry:users:*'),
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ password: 'bobpw2' }),
  });
  assert.equal(reset.status, 204);
  const after = await postToken({ grant_type: 'refresh_token', refresh_token: session });
  await expectOciError(after, 'UNAUTHORIZED', 401);
  const old = await postToken({ grant_type: 'password', username: 'bob', password: 'bobpw' });
  await expectOciError(old, 'UNAUTHORIZED', 401);
  const fresh = await postToken({ grant_type: 'password', username: 'bob', password: 'bobpw2' });
  assert.equal(fresh.status, 200);
});

test('a wrong password in the OAuth2 grant gets no Basic challenge (a browser would prompt)', async () => {
  const post = await postToken({
    grant_type: 'password',
    username: 'nobody',
    password: 'x',
    client_id: 'tsregistry-ui',
  });
  await expectOciError(post, 'UNAUTHORIZED', 401);
  assert.equal(post.headers.get('www-authenticate'), null);
  // GET /token with Basic credentials keeps its challenge, as docker clients expect.
  const get = await fetch(`${reg.url}/token?service=tsregistry`, {
    headers: { Authorization: basic('nobody', 'x') },
  });
  await expectOciError(get, 'UNAUTHORIZED', 401);
  assert.match(get.headers.get('www-authenticate') ?? '', /^Basic realm=/);
});

test('/admin/users needs registry:users:*; add, list, edit grants, remove', async () => {
  const denied = await fetch(`${reg.url}/admin/users`, {
    headers: { Authorization: await bearer('bob', 'bobpw2', 'registry:users:*') },
  });
  await expectOciError(denied, 'UNAUTHORIZED', 401);
  assert.match(denied.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  const auth = await bearer('admin', 'adminpw', 'registry:users:*');
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${reg.url}/admin/users${path}`, {
      method,
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  assert.equal(
    (await send('POST', '', { name: 'carol', password: 'c', access: ['repository:x/*:pull'] }))
      .status,
    201,
  );
  const dup = await send('POST', '', { name: 'carol', password: 'c', access: [] });
  assert.equal(dup.status, 409);
  await expectOciError(
    await send('POST', '', { name: 'dan', password: 'd', access: ['nonsense'] }),
    'UNSUPPORTED',
    400,
  );
  await expectOciError(await send('POST', '', { name: 'dan' }), 'UNSUPPORTED', 400);
  assert.equal(
    (await send('PUT', '/carol/access', { access: ['repository:y/*:pull,push'] })).status,
    204,
  );
  const list = (await (await send('GET', '')).json()) as {
    users: Array<{ name: string; access: string[]; hash?: string }>;
  };
  const carol = list.users.find((u) => u.name === 'carol')!;
  assert.deepEqual(carol, { name: 'carol', access: ['repository:y/*:pull,push'] });
  assert.ok(list.users.every((u) => u.hash === undefined));
  const t = await postToken({
    grant_type: 'password',
    username: 'carol',
    password: 'c',
    scope: 'repository:y/app:push',
  });
  assert.deepEqual(claims(((await t.json()) as { access_token: string }).access_token).access, [
    { type: 'repository', name: 'y/app', actions: ['push'] },
  ]);
  assert.equal((await send('DELETE', '/carol')).status, 204);
  assert.equal((await send('DELETE', '/carol')).status, 404);
  const gone = await postToken({ grant_type: 'password', username: 'carol', password: 'c' });
  await expectOciError(gone, 'UNAUTHORIZED', 401);
});

test('/admin/storage counts a blob shared by two repositories once, and shows it apart', async () => {
  const open = await startRegistry();
  try {
    const shared = Buffer.alloc(50_000, 7);
    const a = makeImage([shared, 1000]);
    const b = makeImage([shared, 3000]);
    await pushImage(open.url, 'ns1/a', 'v1', a);
    await pushImage(open.url, 'ns2/b', 'v1', b);
    const usage = (await (await fetch(`${open.url}/admin/storage`)).json()) as {
      totalBytes: number;
      sharedBytes: number;
      repositories: Array<{ name: string; bytes: number; sharedBytes: number; tags: number }>;
      namespaces: Array<{ name: string; bytes: number; sharedBytes: number }>;
    };
    const own = (img: typeof a): number =>
      img.manifest.length + img.config.length + img.layers[1]!.length;
    assert.equal(usage.sharedBytes, shared.length);
    assert.equal(usage.totalBytes, shared.length + own(a) + own(b));
    const repo = usage.repositories.find((r) => r.name === 'ns1/a')!;
    assert.deepEqual(
      { bytes: repo.bytes, sharedBytes: repo.sharedBytes, tags: repo.tags },
      { bytes: shared.length + own(a), sharedBytes: shared.length, tags: 1 },
    );
    const ns = usage.namespaces.find((n) => n.name === 'ns2')!;
    assert.deepEqual(
      { bytes: ns.bytes, sharedBytes: ns.sharedBytes },
      { bytes: shared.length + own(b), sharedBytes: shared.length },
    );
    // The console's repositories page: a page of 1, then the next, and a search.
    const page1 = (await (await fetch(`${open.url}/ui/api/repositories?n=1`)).json()) as {
      repositories: Array<{ name: string; bytes: number }>;
      next?: string;
    };
    assert.deepEqual(
      page1.repositories.map((r) => r.name),
      ['ns1/a'],
    );
    assert.equal(page1.repositories[0]!.bytes, repo.bytes);
    assert.equal(page1.next, 'ns1/a');
    const page2 = (await (
      await fetch(`${open.url}/ui/api/repositories?n=1&last=ns1/a`)
    ).json()) as {
      repositories: Array<{ name: string }>;
      next?: string;
    };
    assert.deepEqual(
      page2.repositories.map((r) => r.name),
      ['ns2/b'],
    );
    assert.equal(page2.next, undefined);
    const found = (await (await fetch(`${open.url}/ui/api/repositories?q=NS2`)).json()) as {
      repositories: Array<{ name: string }>;
    };
    assert.deepEqual(
      found.repositories.map((r) => r.name),
      ['ns2/b'],
    );
  } finally {
    await open.close();
  }
});
