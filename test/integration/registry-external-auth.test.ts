// tsregistry verifying tokens of an external issuer (`auth.token.rootcertbundle`): the test token
// service (test/helpers/token-issuer.ts) plays the existing issuer. The registry serves no /token,
// its challenges name the external realm, tokens from the issuer work for the scope they grant
// and no other, and a token signed by another key (same issuer name and service) is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { defaultTokenAuth } from '../../registry/config.js';
import { digestOf } from '../../shared/digest.js';
import { RegistryClient } from '../../shared/client/registry-client.js';
import { MediaType } from '../../shared/media-types.js';
import {
  expectOciError,
  makeImage,
  pushImage,
  startRegistry,
  type TestRegistry,
  basic,
} from '../helpers/registry-server.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const SERVICE = 'tsdock-external';
let issuer: TokenIssuer;
let impostor: TokenIssuer;
let reg: TestRegistry;

before(async () => {
  issuer = await startTokenIssuer({ users: { ci: 'cipw' }, service: SERVICE });
  // Same issuer name and service, different key: what a forger without the key could do.
  impostor = await startTokenIssuer({ users: { ci: 'cipw' }, service: SERVICE });
  reg = await startRegistry({
    configure: (config) => {
      config.auth = {
        token: {
          ...defaultTokenAuth(),
          realm: issuer.realm,
          service: issuer.service,
          issuer: issuer.issuer,
          rootcertbundle: issuer.certFile,
          anonymouspull: false,
        },
      };
    },
  });
});
after(async () => {
  await reg?.close();
  await issuer?.close();
  await impostor?.close();
});

/** A token from `from` for `scope`, asked the way docker does (GET with Basic). */
async function tokenFrom(from: TokenIssuer, scope: string): Promise<string> {
  const url = `${from.realm}?service=${SERVICE}&scope=${encodeURIComponent(scope)}`;
  const res = await fetch(url, { headers: { Authorization: basic('ci', 'cipw') } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

test('no built-in /token; the challenge names the external realm and service', async () => {
  const tokenRes = await fetch(`${reg.url}/token?service=${SERVICE}`, {
    headers: { Authorization: basic('ci', 'cipw') },
  });
  assert.notEqual(tokenRes.status, 200, 'an external-issuer registry must not issue tokens');
  await tokenRes.arrayBuffer();
  const res = await fetch(`${reg.url}/v2/team/app/manifests/v1`);
  const challenge = res.headers.get('www-authenticate') ?? '';
  await expectOciError(res, 'UNAUTHORIZED', 401);
  assert.match(challenge, /^Bearer /);
  assert.ok(challenge.includes(`realm="${issuer.realm}"`), challenge);
  assert.ok(challenge.includes(`service="${SERVICE}"`), challenge);
  assert.ok(challenge.includes('scope="repository:team/app:pull"'), challenge);
});

test('a token of the issuer works for the scope it grants, and only that scope', async () => {
  const img = makeImage([300]);
  const push = await tokenFrom(issuer, 'repository:team/app:pull,push');
  await pushImage(reg.url, 'team/app', 'v1', img, bearer(push));
  const get = await fetch(`${reg.url}/v2/team/app/manifests/v1`, {
    headers: { ...bearer(push), Accept: MediaType.OciManifest },
  });
  assert.equal(get.status, 200);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), img.manifest);

  // Another repository: 401 insufficient_scope with a challenge for what was asked.
  const other = await fetch(`${reg.url}/v2/team/other/manifests/v1`, { headers: bearer(push) });
  const challenge = other.headers.get('www-authenticate') ?? '';
  await expectOciError(other, 'UNAUTHORIZED', 401);
  assert.ok(challenge.includes('error="insufficient_scope"'), challenge);
  assert.ok(challenge.includes('scope="repository:team/other:pull"'), challenge);

  // A pull-only token cannot push (a manifest PUT needs pull,push).
  const pull = await tokenFrom(issuer, 'repository:team/app:pull');
  const blobHead = await fetch(`${reg.url}/v2/team/app/blobs/${img.digest}`, {
    method: 'HEAD',
    headers: bearer(pull),
  });
  assert.notEqual(blobHead.status, 401, 'pull works with a pull token');
  const put = await fetch(`${reg.url}/v2/team/app/manifests/v2`, {
    method: 'PUT',
    headers: { ...bearer(pull), 'Content-Type': MediaType.OciManifest },
    body: img.manifest,
  });
  await expectOciError(put, 'UNAUTHORIZED', 401);
  const tags = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: bearer(pull) });
  assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['v1']);

  // The catalog needs registry:catalog:*, which a repository token does not carry.
  await expectOciError(
    await fetch(`${reg.url}/v2/_catalog`, { headers: bearer(push) }),
    'UNAUTHORIZED',
    401,
  );
  const cat = await tokenFrom(issuer, 'registry:catalog:*');
  const catRes = await fetch(`${reg.url}/v2/_catalog`, { headers: bearer(cat) });
  assert.equal(catRes.status, 200);
  assert.deepEqual(((await catRes.json()) as { repositories: string[] }).repositories, [
    'team/app',
  ]);
});

test('a token signed by another key is refused, though its claims look right', async () => {
  const forged = await tokenFrom(impostor, 'repository:team/app:pull,push');
  for (const method of ['GET', 'HEAD']) {
    const res = await fetch(`${reg.url}/v2/team/app/manifests/v1`, {
      method,
      headers: bearer(forged),
    });
    assert.equal(res.status, 401, `${method} with a forged token`);
    assert.ok(
      (res.headers.get('www-authenticate') ?? '').includes('error="invalid_token"'),
      res.headers.get('www-authenticate') ?? '',
    );
    await res.arrayBuffer();
  }
  // Warm the registry's verified-token cache with a good token first: the forged one must
  // still be refused (the cache is keyed by the whole token, not by its claims).
  const good = await tokenFrom(issuer, 'repository:team/app:pull');
  assert.equal(
    (await fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: bearer(good) })).status,
    200,
  );
  await expectOciError(
    await fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: bearer(forged) }),
    'UNAUTHORIZED',
    401,
  );
  // The signature is what is checked: good header and claims with the impostor's signature.
  const spliced = `${good.split('.').slice(0, 2).join('.')}.${forged.split('.')[2]}`;
  await expectOciError(
    await fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: bearer(spliced) }),
    'UNAUTHORIZED',
    401,
  );
});

test('the registry client follows the external challenge: push and pull with credentials', async () => {
  const before = issuer.requests.length;
  const client = new RegistryClient({
    registry: reg.host,
    credentials: { username: 'ci', password: 'cipw' },
  });
  await client.ping();
  const img = makeImage([1000]);
  for (const blob of [img.config, ...img.layers]) {
    const result = await client.uploadBlob(
      'team/client',
      (start) => Readable.from([blob.subarray(start)]),
      {
        digest: digestOf(blob),
        size: blob.length,
      },
    );
    assert.equal(result, 'uploaded');
  }
  const digest = await client.putManifest('team/client', 'v1', img.manifest, MediaType.OciManifest);
  assert.equal(digest, img.digest);
  const fetched = await client.getManifest('team/client', 'v1');
  assert.deepEqual(fetched.bytes, img.manifest);
  const asked = issuer.requests.slice(before);
  assert.ok(asked.length > 0, 'the client asked the external issuer');
  assert.ok(
    asked.every((r) => r.account === 'ci'),
    JSON.stringify(asked),
  );
  assert.ok(
    asked.some((r) =>
      r.scopes.some((s) => s.startsWith('repository:team/client:') && s.includes('push')),
    ),
    JSON.stringify(asked),
  );
});
