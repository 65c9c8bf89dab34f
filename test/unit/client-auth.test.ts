// Pure parts of the registry client: WWW-Authenticate parsing, scope merging and accumulation,
// Link pagination, docker-like error lines.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { Authenticator, mergeScopes, parseChallenge } from '../../shared/client/auth.js';
import type { HttpResponse } from '../../shared/client/http.js';
import { nextLink } from '../../shared/client/registry-client.js';
import { displayName, errorFromResponse } from '../../shared/client/registry-errors.js';

test('parseChallenge: Bearer with quoted params, Basic, junk', () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"',
    ),
    {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/busybox:pull,push',
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="basic-realm"'), {
    scheme: 'basic',
    params: { realm: 'basic-realm' },
  });
  assert.deepEqual(parseChallenge('bearer realm=http://x/t, error="invalid_token"')?.params, {
    realm: 'http://x/t',
    error: 'invalid_token',
  });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
  assert.equal(parseChallenge('Bearer realm="a\\"b"')?.params.realm, 'a"b');
});

test('mergeScopes merges actions per resource and sorts', () => {
  assert.deepEqual(
    mergeScopes([
      'repository:b:pull',
      'repository:a:push',
      'repository:a:pull',
      'repository:b:pull repository:c:delete',
    ]),
    ['repository:a:pull,push', 'repository:b:pull', 'repository:c:delete'],
  );
  assert.deepEqual(mergeScopes(['registry:catalog:*']), ['registry:catalog:*']);
});

test('Authenticator.accumulate keeps earlier actions for the same repository', () => {
  const a = new Authenticator('r', undefined, { userAgent: 't' });
  assert.deepEqual(a.accumulate(['repository:x:pull,push']), ['repository:x:pull,push']);
  assert.deepEqual(a.accumulate(['repository:x:pull']), ['repository:x:pull,push']);
  assert.deepEqual(a.accumulate(['repository:x:pull', 'repository:y:pull']), [
    'repository:x:pull,push',
    'repository:y:pull',
  ]);
});

test('nextLink reads RFC 5988 Link headers', () => {
  assert.equal(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"'), '/v2/a/tags/list?n=2&last=b');
  assert.equal(nextLink('<https://h/v2/_catalog?last=x>;rel=next'), 'https://h/v2/_catalog?last=x');
  assert.equal(nextLink(undefined), undefined);
  assert.equal(nextLink('</x>; rel="prev"'), undefined);
});

function fakeResponse(status: number, body: unknown): HttpResponse {
  return {
    status,
    headers: {},
    url: 'http://h/v2/',
    body: Readable.from([Buffer.from(JSON.stringify(body))]) as unknown as HttpResponse['body'],
  };
}

test('errors read like docker', async () => {
  assert.equal(displayName('docker.io', 'library/busybox'), 'busybox');
  assert.equal(displayName('h:5000', 'a/b'), 'h:5000/a/b');
  const denied = await errorFromResponse(
    fakeResponse(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
    {
      op: 'pull',
      registry: 'docker.io',
      repo: 'library/nope',
      ref: 'latest',
    },
  );
  assert.equal(
    denied.message,
    "pull access denied for nope, repository does not exist or may require 'tslogin'",
  );
  assert.equal(denied.exitCode, 125);
  const unknown = await errorFromResponse(
    fakeResponse(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }),
    {
      op: 'pull',
      registry: 'h:5000',
      repo: 'a/b',
      ref: 'v9',
    },
  );
  assert.equal(unknown.message, 'manifest for h:5000/a/b:v9 not found: manifest unknown');
  const push = await errorFromResponse(
    fakeResponse(403, {
      errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }],
    }),
    {
      op: 'push',
      registry: 'h:5000',
      repo: 'a/b',
    },
  );
  assert.match(push.message, /^denied: requested access to h:5000\/a\/b is denied$/);
  const login = await errorFromResponse(fakeResponse(401, {}), { op: 'login', registry: 'h:5000' });
  assert.equal(login.message, 'unauthorized: incorrect username or password for h:5000');
  const server = await errorFromResponse(
    fakeResponse(500, { errors: [{ code: 'UNKNOWN', message: 'boom' }] }),
    {
      op: 'push',
      registry: 'h',
      repo: 'a',
    },
  );
  assert.match(
    server.toLine(),
    /^push h\/a failed: HTTP 500 unknown: boom: the registry had an internal error; try again$/,
  );
});
