// Blob fetches of tsregistry's proxy mode: 16 concurrent pulls of the same uncached 64 MiB
// layer cause one upstream fetch (counted at the upstream, a tsregistry with token auth, by
// its request metrics) and all 16 clients get the right bytes; an upstream that sends bytes not
// matching the digest gets nothing stored, and no client receives a complete wrong blob; the
// admin listing shows what is cached, and eviction down to a size removes the least recently
// used images (GC frees their bytes), which are fetched again when asked for. A client gets its
// whole verified blob without waiting for the cache to store it, and a request meanwhile (GET or
// HEAD) is answered from the fetch still open, not by the upstream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  basic,
  makeImage,
  pushImage,
  sha256,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';
import { waitFor } from '../helpers/wait.js';
import { fileDownloadStats } from '../../shared/client/file-download.js';
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
      c.storage.maintenance.gc.grace = 0;
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

async function upstreamToken(repos: string[]): Promise<string> {
  const scopes = repos.map((r) => `scope=repository:${r}:pull,push`).join('&');
  const res = await fetch(`${upstream.url}/token?service=tsregistry&${scopes}`, {
    headers: { authorization: basic('hub', 'hubpw') },
  });
  return ((await res.json()) as { token: string }).token;
}

/** Pulls an image through the proxy: manifest, config and layers; returns the blob digests. */
async function pullImage(repo: string): Promise<string[]> {
  const res = await fetch(`${proxy.url}/v2/${repo}/manifests/v1`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(res.status, 200, await res.clone().text());
  const m = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
  const digests = [m.config.digest, ...m.layers.map((l) => l.digest)];
  for (const d of digests)
    assert.deepEqual(await pullDigest(`${proxy.url}/v2/${repo}/blobs/${d}`), {
      status: 200,
      digest: d,
    });
  return digests;
}

async function pullDigest(
  url: string,
  signal?: AbortSignal,
): Promise<{ status: number; digest: string }> {
  const res = await fetch(url, { signal });
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
  const bulkBefore = fileDownloadStats.bulk;
  const url = `${proxy.url}/v2/up/library/big/blobs/${layerDigest}`;
  const pulls = await Promise.all(Array.from({ length: 16 }, () => pullDigest(url)));
  for (const p of pulls) assert.deepEqual(p, { status: 200, digest: layerDigest });
  assert.equal((await upstreamBlobGets()) - before, 1, 'one GET of the blob at the upstream');
  assert.equal(fileDownloadStats.bulk - bulkBefore, 1, 'read in bulk, not through the http client');
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
  for (const dir of ['uploads', 'proxy-fetch']) {
    let left: string[] = [];
    try {
      left = readdirSync(join(proxy.root, dir));
    } catch {
      // no such directory: nothing left
    }
    assert.deepEqual(left, [], `no partial download left behind in ${dir}`);
  }
});

test('admin listing of the cache; LRU eviction to a size, bytes freed by GC, refetched on demand', async () => {
  const token = await upstreamToken(['library/a', 'library/b']);
  const a = makeImage([100 * 1024]);
  const b = makeImage([200 * 1024]);
  await pushImage(upstream.url, 'library/a', 'v1', a, { authorization: `Bearer ${token}` });
  await pushImage(upstream.url, 'library/b', 'v1', b, { authorization: `Bearer ${token}` });
  const aBlobs = await pullImage('up/library/a');
  const bBlobs = await pullImage('up/library/b');
  await pullImage('up/library/a'); // a is now the most recently used
  const listing = (await (await fetch(`${proxy.url}/admin/proxy/cache`)).json()) as {
    items: {
      repo: string;
      digest: string;
      kind: string;
      size: number;
      lastUse: string;
      tags?: string[];
    }[];
  };
  const find = (repo: string, digest: string) =>
    listing.items.find((i) => i.repo === repo && i.digest === digest);
  assert.equal(find('up/library/b', bBlobs[1]!)?.size, 200 * 1024);
  assert.deepEqual(find('up/library/a', a.digest)?.tags, ['v1']);
  assert.ok(
    find('up/library/a', aBlobs[1]!)!.lastUse > find('up/library/b', bBlobs[1]!)!.lastUse,
    'last use recorded',
  );
  const keep = a.config.length + 100 * 1024;
  const res = await fetch(`${proxy.url}/admin/proxy/evict?maxsize=${keep}`, { method: 'POST' });
  assert.equal(res.status, 200);
  const report = (await res.json()) as { evicted: { digest: string }[]; bytesFreed: number };
  const evicted = report.evicted.map((e) => e.digest);
  assert.ok(evicted.includes(bBlobs[1]!) && evicted.includes(layerDigest), JSON.stringify(evicted));
  assert.ok(!evicted.includes(aBlobs[1]!), 'the most recently used image stays');
  assert.ok(report.bytesFreed >= LAYER + 200 * 1024, `freed ${report.bytesFreed}`);
  const blobs = proxy.running.registry.blobs;
  assert.equal(await blobs.size(bBlobs[1]!, { fresh: true }), undefined);
  assert.equal(await blobs.size(aBlobs[1]!, { fresh: true }), 100 * 1024);
  await pullImage('up/library/b'); // fetched again from the upstream
  // the client had the blob once verified; storing it finishes just after
  await waitFor(() => blobs.size(bBlobs[1]!, { fresh: true }), 'b stored again', 10_000);
  assert.equal(await blobs.size(bBlobs[1]!, { fresh: true }), 200 * 1024);
});

test('proxy.maxsize: caching past the size evicts the least recently used by itself', async () => {
  const small = await startRegistry({
    configure: (c) => {
      c.storage.maintenance.gc.grace = 0;
      c.proxy = { maxsize: 250 * 1024, upstreams: [route('up', upstream.url, true)] };
    },
  });
  try {
    const get = async (repo: string): Promise<string[]> => {
      const res = await fetch(`${small.url}/v2/${repo}/manifests/v1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(res.status, 200);
      const m = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
      const digests = [m.config.digest, ...m.layers.map((l) => l.digest)];
      for (const d of digests)
        assert.equal((await pullDigest(`${small.url}/v2/${repo}/blobs/${d}`)).digest, d);
      return digests;
    };
    const a = await get('up/library/a'); // 100 KiB layer
    const b = await get('up/library/b'); // 200 KiB layer: past 250 KiB, a goes
    const blobs = small.running.registry.blobs;
    for (let i = 0; i < 400 && (await blobs.size(a[1]!, { fresh: true })) !== undefined; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await blobs.size(a[1]!, { fresh: true }), undefined, 'evicted and freed');
    assert.equal(await blobs.size(b[1]!, { fresh: true }), 200 * 1024, 'the newest stays');
  } finally {
    await small.close();
  }
});

test('a fetch left behind by a process that died is taken over by the next request', async () => {
  const token = await upstreamToken(['library/orphan']);
  const img = makeImage([1024 * 1024]);
  const layer = sha256(img.layers[0]!);
  await pushImage(upstream.url, 'library/orphan', 'v1', img, { authorization: `Bearer ${token}` });
  // the lock and half a download of a worker that is gone (its pid has exited)
  const dead = spawnSync('true').pid;
  const dir = join(proxy.root, 'proxy-fetch', `sha256-${layer.slice(7)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'lock'), `${hostname()} ${dead}\n`);
  writeFileSync(join(dir, 'size'), String(img.layers[0]!.length));
  writeFileSync(join(dir, 'data'), img.layers[0]!.subarray(0, 1000));
  const url = `${proxy.url}/v2/up/library/orphan/blobs/${layer}`;
  assert.deepEqual(await pullDigest(url), { status: 200, digest: layer });
  const left = (): string[] => readdirSync(join(proxy.root, 'proxy-fetch'));
  await waitFor(() => left().length === 0, 'the fetch cleaned up once stored', 10_000);
  assert.deepEqual(left(), []);
  assert.equal(await proxy.running.registry.blobs.size(layer, { fresh: true }), 1024 * 1024);
});

test('a client gets its verified blob without waiting for the cache to store it; requests meanwhile join the fetch', async () => {
  const token = await upstreamToken(['library/slowstore']);
  const img = makeImage([3 * 1024 * 1024]);
  const layer = sha256(img.layers[0]!);
  await pushImage(upstream.url, 'library/slowstore', 'v1', img, {
    authorization: `Bearer ${token}`,
  });
  const blobs = proxy.running.registry.blobs;
  // storing the blob waits for the gate: a disk far slower than the network
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const commitFrom = blobs.commitFrom.bind(blobs);
  blobs.commitFrom = async (...args: Parameters<typeof commitFrom>) => {
    if (args[1] === layer) await gate;
    return commitFrom(...args);
  };
  try {
    const before = await upstreamBlobGets();
    const url = `${proxy.url}/v2/up/library/slowstore/blobs/${layer}`;
    // (the gate stays shut: a client waiting for the store would time out here)
    assert.deepEqual(await pullDigest(url, AbortSignal.timeout(10_000)), {
      status: 200,
      digest: layer,
    });
    assert.equal(await blobs.size(layer, { fresh: true }), undefined, 'not stored yet');
    // meanwhile another client, and a HEAD, are served from the fetch still open
    assert.deepEqual(await pullDigest(url, AbortSignal.timeout(10_000)), {
      status: 200,
      digest: layer,
    });
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(img.layers[0]!.length));
    assert.equal((await upstreamBlobGets()) - before, 1, 'one GET of the blob at the upstream');
  } finally {
    open();
    blobs.commitFrom = commitFrom;
  }
  await waitFor(() => blobs.size(layer, { fresh: true }), 'the blob stored', 10_000);
  assert.equal(await blobs.size(layer, { fresh: true }), 3 * 1024 * 1024);
});
