// Blob fetches of tsregistry's proxy mode: 16 concurrent pulls of the same uncached 64 MiB
// layer cause one upstream fetch (counted at the upstream, a tsregistry with token auth, by
// its request metrics) and all 16 clients get the right bytes; an upstream that sends bytes not
// matching the digest gets nothing stored, and no client receives a complete wrong blob.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  basic,
  makeImage,
  pushImage,
  sha256,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';
import type { UpstreamConfig } from '../../registry/proxy/config.js';

const LAYER = 64 * 1024 * 1024;
let upstream: TestRegistry;
let liar: http.Server;
let proxy: TestRegistry;
let layerDigest: string;
const wrongDigest = sha256('what the liar claims to serve');

function route(prefix: string, remoteurl: string, creds: boolean): UpstreamConfig {
  return {
    prefix,
    remoteurl,
    ...(creds ? { username: 'hub', password: 'hubpw' } : {}),
    ttl: 60,
    tls: { insecureskipverify: false },
    local: [],
  };
}

before(async () => {
  upstream = await startRegistry({ auth: { users: { hub: { password: 'hubpw' } } } });
  const tokenRes = await fetch(
    `${upstream.url}/token?service=tsregistry&scope=repository:library/big:pull,push`,
    { headers: { authorization: basic('hub', 'hubpw') } },
  );
  const { token } = (await tokenRes.json()) as { token: string };
  const image = makeImage([LAYER]);
  layerDigest = sha256(image.layers[0]!);
  await pushImage(upstream.url, 'library/big', 'v1', image, { authorization: `Bearer ${token}` });
  // an upstream whose blob bytes do not match the digest asked for
  liar = http.createServer((req, res) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (req.url === '/v2/') return void res.end('{}');
    const body = randomBytes(4 * 1024 * 1024);
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
  const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  proxy = await startRegistry({
    configure: (c) => {
      c.proxy = {
        maxsize: 0,
        upstreams: [route('up', upstream.url, true), route('liar', liarUrl, false)],
      };
    },
  });
});

after(async () => {
  await proxy?.close();
  await upstream?.close();
  liar?.closeAllConnections();
  await new Promise<void>((resolve) => (liar ? liar.close(() => resolve()) : resolve()));
});

async function pullDigest(url: string): Promise<{ status: number; digest: string }> {
  const res = await fetch(url);
  const hash = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return { status: res.status, digest: `sha256:${hash.digest('hex')}` };
}

async function upstreamBlobGets(): Promise<number> {
  const text = await (await fetch(`${upstream.url}/metrics`)).text();
  const m = /tsregistry_http_requests_total\{method="GET",route="blobs",status="200"\} (\d+)/.exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

test('16 concurrent pulls of one uncached 64 MiB layer cause one upstream fetch', async () => {
  const before = await upstreamBlobGets();
  const url = `${proxy.url}/v2/up/library/big/blobs/${layerDigest}`;
  const pulls = await Promise.all(Array.from({ length: 16 }, () => pullDigest(url)));
  for (const p of pulls) assert.deepEqual(p, { status: 200, digest: layerDigest });
  assert.equal((await upstreamBlobGets()) - before, 1, 'one GET of the blob at the upstream');
  // cached now: served without the upstream
  assert.deepEqual(await pullDigest(url), { status: 200, digest: layerDigest });
  assert.equal((await upstreamBlobGets()) - before, 1);
});

test('an upstream sending the wrong bytes gets nothing stored and no client a whole blob', async () => {
  const url = `${proxy.url}/v2/liar/library/x/blobs/${wrongDigest}`;
  const results = await Promise.all(
    [1, 2].map(() =>
      pullDigest(url).then(
        (r) => r,
        (err: Error) => ({ status: -1, digest: err.message }),
      ),
    ),
  );
  for (const r of results) assert.notEqual(r.digest, wrongDigest);
  for (const r of results)
    assert.ok(r.status !== 200 || r.digest !== wrongDigest, 'cut off or refused');
  assert.equal(await proxy.running.registry.blobs.size(wrongDigest, { fresh: true }), undefined);
  const uploads = join(proxy.root, 'uploads');
  let left: string[] = [];
  try {
    left = readdirSync(uploads);
  } catch {
    // no uploads directory: nothing left
  }
  assert.deepEqual(left, [], 'no partial download left behind');
});
