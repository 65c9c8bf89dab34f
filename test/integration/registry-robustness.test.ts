// Bad input and contention: malformed requests get a 4xx OCI error (never a 5xx, never a stored
// byte); many clients pushing the same blob and tag at once end consistent; online GC running
// during pushes never loses a completed push and sweeps what nothing references.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  expectOciError,
  makeImage,
  pushBlob,
  pushImage,
  sha256,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry({ configure: (c) => (c.storage.maintenance.gc.grace = 0) });
});
after(async () => {
  await reg.close();
});

function blobFiles(): string[] {
  const root = join(reg.root, 'blobs', 'sha256');
  try {
    return readdirSync(root).flatMap((p) => readdirSync(join(root, p)));
  } catch {
    return [];
  }
}

/** Sends raw bytes and returns the raw reply. */
function raw(request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(reg.port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    sock.end(request);
    setTimeout(() => (sock.destroy(), resolve(out)), 3000).unref();
  });
}

test('malformed requests: 4xx OCI errors, nothing stored', async () => {
  const before = blobFiles().length;
  const u = reg.url;
  const cases: Array<[string, RequestInit | undefined, string]> = [
    [`${u}/v2/a/blobs/sha256:1234`, undefined, 'DIGEST_INVALID'],
    [`${u}/v2/a/blobs/md5:${'0'.repeat(32)}`, undefined, 'DIGEST_INVALID'],
    [`${u}/v2/a/blobs/uploads/?digest=sha256:zz`, { method: 'POST', body: 'x' }, 'DIGEST_INVALID'],
    [
      `${u}/v2/a/manifests/v1`,
      {
        method: 'PUT',
        body: '[1,2',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      },
      'MANIFEST_INVALID',
    ],
    [
      `${u}/v2/a/manifests/v1`,
      {
        method: 'PUT',
        body: '{"schemaVersion":2}',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      },
      'MANIFEST_INVALID',
    ],
    [`${u}/v2/a/manifests/v1`, { method: 'PUT', body: '{"schemaVersion":1}' }, 'MANIFEST_INVALID'],
    [`${u}/v2/..%2F..%2Fetc/manifests/v1`, undefined, 'NAME_INVALID'],
    [`${u}/v2/a/manifests/..%2F..%2Fx`, undefined, 'MANIFEST_UNKNOWN'],
    [`${u}/v2/a/manifests/..%2F..%2Fx`, { method: 'PUT', body: '{}' }, 'TAG_INVALID'],
    [`${u}/v2/a/blobs/uploads/..%2F..%2Fetc`, undefined, 'BLOB_UPLOAD_UNKNOWN'],
    [
      `${u}/v2/a/blobs/uploads/00000000-0000-0000-0000-000000000000`,
      { method: 'PATCH', body: 'x' },
      'BLOB_UPLOAD_UNKNOWN',
    ],
    [`${u}/v2/${'a'.repeat(300)}/tags/list`, undefined, 'NAME_INVALID'],
    [`${u}/v2/a/tags/list?n=abc`, undefined, 'NAME_UNKNOWN'],
  ];
  for (const [url, init, code] of cases) {
    const res = await fetch(url, init);
    assert.ok(res.status < 500, `${url}: ${res.status}`);
    await expectOciError(res, code as never);
  }
  // Bad ranges on an upload session.
  const post = await fetch(`${u}/v2/a/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(post.headers.get('location')!, u);
  for (const range of ['5-2', 'bytes=abc', '0-9']) {
    const res = await fetch(loc, {
      method: 'PATCH',
      headers: { 'Content-Range': range },
      body: 'x',
    });
    await expectOciError(res, 'RANGE_INVALID', 416);
  }
  const status = await fetch(loc);
  assert.equal(status.headers.get('range'), '0-0');
  // Dot segments that a client library would resolve away, sent raw.
  for (const path of [
    '/v2/a/%2E%2E/manifests/v1',
    '/v2/a/../b/manifests/v1',
    '/v2/a/%2e%2e%2fetc/blobs/sha256:00',
  ]) {
    const reply = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 4\d\d/, path);
    assert.match(reply, /"errors":\[\{"code":"(NAME_INVALID|UNSUPPORTED)"/, path);
  }
  // Huge headers and a body longer than announced.
  const huge = await raw(`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 431/);
  assert.match(huge, /"errors"/);
  const data = randomBytes(10);
  const longer = await raw(
    Buffer.concat([
      Buffer.from(
        `POST /v2/a/blobs/uploads/?digest=${sha256(data)} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`,
      ),
      data,
    ]),
  );
  assert.match(longer, /^HTTP\/1\.1 400/);
  assert.match(longer, /"errors":\[\{"code":"(DIGEST_INVALID|UNSUPPORTED)"/);
  assert.equal(blobFiles().length, before, 'no blob stored');
});

test('many clients pushing the same blob and tag at once: consistent', async () => {
  const img = makeImage([200_000]);
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, () => pushImage(reg.url, 'same/app', 'latest', img)),
  );
  assert.ok(
    results.every((r) => r.status === 'fulfilled'),
    JSON.stringify(results.filter((r) => r.status === 'rejected')),
  );
  const m = await fetch(`${reg.url}/v2/same/app/manifests/latest`);
  assert.equal(m.headers.get('docker-content-digest'), img.digest);
  const blob = Buffer.from(
    await (await fetch(`${reg.url}/v2/same/app/blobs/${sha256(img.layers[0]!)}`)).arrayBuffer(),
  );
  assert.equal(sha256(blob), sha256(img.layers[0]!));
  // Different images racing for one tag: the tag ends on one of them, intact.
  const imgs = Array.from({ length: 6 }, () => makeImage([1000]));
  await Promise.all(imgs.map((i) => pushImage(reg.url, 'same/race', 'latest', i)));
  const winner = (await fetch(`${reg.url}/v2/same/race/manifests/latest`)).headers.get(
    'docker-content-digest',
  );
  assert.ok(imgs.some((i) => i.digest === winner));
});

test('online GC during concurrent pushes: completed pushes intact, garbage swept', async () => {
  const orphan = await pushBlob(reg.url, 'gc/tmp', randomBytes(5000));
  const dangling = makeImage([3000]);
  await pushImage(reg.url, 'gc/old', 'v1', dangling);
  assert.equal(
    (await fetch(`${reg.url}/v2/gc/old/manifests/${dangling.digest}`, { method: 'DELETE' })).status,
    202,
  );
  const images = Array.from({ length: 16 }, () => makeImage([20_000, 5_000]));
  const pushes = images.map((img, i) => pushImage(reg.url, `gc/app${i % 4}`, `t${i}`, img));
  const runs = [reg.running.gc.run({ dryRun: false })];
  await new Promise((r) => setTimeout(r, 5));
  runs.push(reg.running.gc.run({ dryRun: false }));
  await Promise.all(pushes);
  await Promise.all(runs);
  const final = await reg.running.gc.run({ dryRun: false });
  for (const [i, img] of images.entries()) {
    const repo = `gc/app${i % 4}`;
    const m = await fetch(`${reg.url}/v2/${repo}/manifests/t${i}`);
    assert.equal(m.status, 200);
    await m.arrayBuffer();
    for (const b of [img.config, ...img.layers]) {
      const got = Buffer.from(
        await (await fetch(`${reg.url}/v2/${repo}/blobs/${sha256(b)}`)).arrayBuffer(),
      );
      assert.equal(sha256(got), sha256(b), `image ${i} blob intact`);
    }
  }
  const deleted = new Set([...final.blobsDeleted]);
  const all = blobFiles();
  assert.ok(!all.includes(orphan.slice(7)), 'unreferenced upload swept');
  assert.ok(!all.includes(dangling.digest.slice(7)), 'deleted manifest swept');
  assert.ok(!all.includes(sha256(dangling.layers[0]!).slice(7)), 'its layer swept');
  assert.ok(deleted.size >= 0);
  await expectOciError(await fetch(`${reg.url}/v2/gc/tmp/blobs/${orphan}`), 'BLOB_UNKNOWN', 404);
});
