// RegistryClient authentication against the reference registry: htpasswd (Basic) and token auth
// (Bearer via test/helpers/token-issuer.ts: GET with Basic, POST refresh_token, anonymous),
// wrong passwords, scope accumulation for cross-repo mounts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../shared/client/registry-client.js';
import { digestOf } from '../../shared/digest.js';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';

const users = { alice: 's3cret-pass', bob: 'hunter22' };
const src = (data: Buffer) => (start: number) => Readable.from([data.subarray(start)]);

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('htpasswd (Basic)', () => {
  let reg: ReferenceRegistry;
  before(async () => {
    reg = await startReferenceRegistry({ auth: { kind: 'htpasswd', users } });
  });
  after(async () => {
    await reg?.close();
  });

  test('good credentials push and pull', async () => {
    const c = new RegistryClient({
      registry: reg.host,
      credentials: { username: 'alice', password: users.alice },
    });
    await c.ping();
    const data = randomBytes(20_000);
    const digest = digestOf(data);
    assert.equal(
      await c.uploadBlob('team/app', src(data), { digest, size: data.length }),
      'uploaded',
    );
    assert.deepEqual(await readAll(await c.getBlob('team/app', digest)), data);
  });

  test('a wrong password is one clear error', async () => {
    const c = new RegistryClient({
      registry: reg.host,
      credentials: { username: 'alice', password: 'nope' },
    });
    await assert.rejects(c.ping(), (err: Error) => {
      assert.match(
        err.message,
        /^unauthorized: incorrect username or password for 127\.0\.0\.1:\d+$/,
      );
      return true;
    });
  });

  test('anonymous pull is refused docker-style', async () => {
    const c = new RegistryClient({ registry: reg.host, credentials: null });
    await assert.rejects(
      c.getManifest('team/app', 'latest'),
      /pull access denied for 127\.0\.0\.1:\d+\/team\/app/,
    );
  });
});

describe('token auth (Bearer)', () => {
  let reg: ReferenceRegistry;
  before(async () => {
    reg = await startReferenceRegistry({ auth: { kind: 'token', users } });
  });
  after(async () => {
    await reg?.close();
  });

  test('login, push, pull, and mount with accumulated scopes', async () => {
    const issuer = reg.tokenIssuer!;
    const c = new RegistryClient({
      registry: reg.host,
      credentials: { username: 'bob', password: users.bob },
    });
    await c.ping();
    const data = randomBytes(50_000);
    const digest = digestOf(data);
    assert.equal(
      await c.uploadBlob('bob/one', src(data), { digest, size: data.length }),
      'uploaded',
    );
    assert.deepEqual(await readAll(await c.getBlob('bob/one', digest)), data);
    assert.equal(await c.mountBlob('bob/two', digest, 'bob/one'), true);
    assert.equal(await c.headBlob('bob/two', digest), data.length);
    const mountReq = issuer.requests.find(
      (r) =>
        r.scopes.some((s) => /^repository:bob\/one:pull/.test(s)) &&
        r.scopes.some((s) => s.startsWith('repository:bob/two:')),
    );
    assert.ok(mountReq, `no token asked for both repos: ${JSON.stringify(issuer.requests)}`);
    assert.ok(mountReq.scopes.includes('repository:bob/two:pull,push'));
    assert.ok(issuer.requests.every((r) => r.method === 'GET' && r.account === 'bob'));
    // Tokens are cached per scope set: far fewer token requests than registry requests.
    assert.ok(issuer.requests.length <= 5, `${issuer.requests.length} token requests`);
  });

  test('identity token: POST refresh_token grant', async () => {
    const issuer = reg.tokenIssuer!;
    const form = new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password: users.alice,
      service: issuer.service,
      client_id: 'test',
      access_type: 'offline',
    });
    const res = await fetch(issuer.realm, { method: 'POST', body: form });
    const { refresh_token } = (await res.json()) as { refresh_token: string };
    const before = issuer.requests.length;
    const c = new RegistryClient({
      registry: reg.host,
      credentials: { identitytoken: refresh_token },
    });
    const data = randomBytes(1000);
    await c.uploadBlob('alice/x', src(data), { digest: digestOf(data), size: data.length });
    const mine = issuer.requests.slice(before).filter((r) => r.method === 'POST');
    assert.ok(
      mine.length >= 1 && mine.every((r) => r.grant === 'refresh_token' && r.account === 'alice'),
    );
  });

  test('wrong password and anonymous access fail with one line', async () => {
    const bad = new RegistryClient({
      registry: reg.host,
      credentials: { username: 'bob', password: 'wrong' },
    });
    await assert.rejects(
      bad.ping(),
      /^TsdockError: unauthorized: incorrect username or password|unauthorized: incorrect username or password/,
    );
    const anon = new RegistryClient({ registry: reg.host, credentials: null });
    await assert.rejects(
      anon.getManifest('bob/one', 'latest'),
      /pull access denied for 127\.0\.0\.1:\d+\/bob\/one, repository does not exist or may require 'tslogin'/,
    );
    const data = randomBytes(10);
    await assert.rejects(
      anon.uploadBlob('bob/one', src(data), { digest: digestOf(data), size: 10 }),
      /denied|pull access denied/,
    );
  });
});
