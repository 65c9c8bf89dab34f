// The distribution-spec workflows (pull, push in three styles, mount, discovery with
// pagination and referrers, content management), written once. They run against an
// in-process tsregistry, or against a deployed registry when REGISTRY_URL is set
// (e.g. REGISTRY_URL=http://127.0.0.1:5000 for a tsregistry without auth).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  expectOciError,
  makeImage,
  pushBlob,
  pushImage,
  sha256,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
let url: string;
let reg: TestRegistry | undefined;
const ns = `wf${Date.now().toString(36)}`;

before(async () => {
  if (process.env.REGISTRY_URL) url = process.env.REGISTRY_URL;
  else {
    reg = await startRegistry();
    url = reg.url;
  }
});
after(async () => {
  await reg?.close();
});

describe('pull', () => {
  test('manifest by tag and digest, HEAD, blobs with Range', async () => {
    const img = makeImage([5000]);
    await pushImage(url, `${ns}/pull`, 'v1', img);
    for (const ref of ['v1', img.digest]) {
      const res = await fetch(`${url}/v2/${ns}/pull/manifests/${ref}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(res.headers.get('docker-content-digest'), img.digest);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), img.manifest, 'byte-exact');
    }
    const head = await fetch(`${url}/v2/${ns}/pull/manifests/v1`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(img.manifest.length));
    const layer = img.layers[0]!;
    const bh = await fetch(`${url}/v2/${ns}/pull/blobs/${sha256(layer)}`, { method: 'HEAD' });
    assert.equal(bh.status, 200);
    assert.equal(bh.headers.get('content-length'), '5000');
    assert.equal(bh.headers.get('docker-content-digest'), sha256(layer));
    const whole = await fetch(`${url}/v2/${ns}/pull/blobs/${sha256(layer)}`);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), layer);
    const part = await fetch(`${url}/v2/${ns}/pull/blobs/${sha256(layer)}`, {
      headers: { Range: 'bytes=100-199' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 100-199/5000');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), layer.subarray(100, 200));
    const bad = await fetch(`${url}/v2/${ns}/pull/blobs/${sha256(layer)}`, {
      headers: { Range: 'bytes=6000-7000' },
    });
    assert.equal(bad.status, 416);
    await bad.arrayBuffer();
  });

  test('unknown things are OCI errors', async () => {
    await expectOciError(
      await fetch(`${url}/v2/${ns}/pull/manifests/nope`),
      'MANIFEST_UNKNOWN',
      404,
    );
    await expectOciError(
      await fetch(`${url}/v2/${ns}/pull/blobs/${sha256('x')}`),
      'BLOB_UNKNOWN',
      404,
    );
    await expectOciError(
      await fetch(`${url}/v2/${ns}/pull/blobs/sha256:xyz`),
      'DIGEST_INVALID',
      400,
    );
    await expectOciError(await fetch(`${url}/v2/${ns}/UPPER/manifests/v1`), 'NAME_INVALID', 400);
    // A reference that is neither a tag nor a digest names no manifest: 404 to reads and
    // deletes, and only a PUT is told the tag is invalid.
    for (const method of ['GET', 'HEAD', 'DELETE'])
      for (const ref of ['-bad', '.dot', 'a'.repeat(129), 'sha256:zzz']) {
        const res = await fetch(`${url}/v2/${ns}/pull/manifests/${ref}`, { method });
        if (method === 'HEAD') assert.equal(res.status, 404, `${method} ${ref}`);
        else await expectOciError(res, 'MANIFEST_UNKNOWN', 404);
      }
    const put = await fetch(`${url}/v2/${ns}/pull/manifests/-bad`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: makeImage([10]).manifest,
    });
    await expectOciError(put, 'TAG_INVALID', 400);
    const ping = await fetch(`${url}/v2/`);
    assert.equal(ping.status, 200);
    assert.equal(ping.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });
});

describe('push', () => {
  const repo = `${ns}/push`;
  test('monolithic POST ?digest= and POST then PUT', async () => {
    const a = randomBytes(3000);
    await pushBlob(url, repo, a);
    const b = randomBytes(100);
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 202);
    const loc = post.headers.get('location')!;
    assert.ok(loc);
    const put = await fetch(
      new URL(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(b)}`, url),
      {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: b,
      },
    );
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('docker-content-digest'), sha256(b));
    const got = await fetch(new URL(put.headers.get('location')!, url));
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), b);
  });

  test('chunked with Content-Range, status, out-of-order 416, final chunk on PUT', async () => {
    const data = randomBytes(30_000);
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    let loc = post.headers.get('location')!;
    const patch = (start: number, end: number) =>
      fetch(new URL(loc, url), {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}` },
        body: data.subarray(start, end + 1),
      });
    let res = await patch(0, 9999);
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-9999');
    loc = res.headers.get('location')!;
    res = await patch(20000, 29999);
    assert.equal(res.status, 416);
    await res.arrayBuffer();
    const status = await fetch(new URL(loc, url));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-9999');
    res = await patch(10000, 19999);
    assert.equal(res.status, 202);
    loc = res.headers.get('location')!;
    const put = await fetch(
      new URL(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(data)}`, url),
      {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '20000-29999' },
        body: data.subarray(20000),
      },
    );
    assert.equal(put.status, 201, await put.text());
    const head = await fetch(`${url}/v2/${repo}/blobs/${sha256(data)}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '30000');
  });

  test('streamed PATCH without Content-Range, then PUT without body', async () => {
    const data = randomBytes(50_000);
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const res = await fetch(new URL(post.headers.get('location')!, url), {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-49999');
    const loc = res.headers.get('location')!;
    const put = await fetch(
      new URL(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(data)}`, url),
      { method: 'PUT' },
    );
    assert.equal(put.status, 201);
  });

  test('digest mismatch stores nothing; cancel forgets the session', async () => {
    const data = randomBytes(1000);
    const wrong = sha256('something else');
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${wrong}`, {
      method: 'POST',
      body: data,
    });
    await expectOciError(res, 'DIGEST_INVALID', 400);
    for (const d of [wrong, sha256(data)]) {
      const head = await fetch(`${url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
    }
    const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(post.headers.get('location')!, url);
    const del = await fetch(loc, { method: 'DELETE' });
    assert.equal(del.status, 204);
    await expectOciError(await fetch(loc), 'BLOB_UPLOAD_UNKNOWN', 404);
  });

  test('manifests: missing blobs, invalid JSON, digest references, size limit', async () => {
    const img = makeImage([10]);
    const put = (ref: string, body: Buffer | string, type = OCI_MANIFEST) =>
      fetch(`${url}/v2/${repo}/manifests/${ref}`, {
        method: 'PUT',
        headers: { 'Content-Type': type },
        body,
      });
    await expectOciError(await put('v1', img.manifest), 'MANIFEST_BLOB_UNKNOWN');
    await expectOciError(await put('v1', '{not json'), 'MANIFEST_INVALID', 400);
    for (const b of [img.config, ...img.layers]) await pushBlob(url, repo, b);
    await expectOciError(await put(sha256('other'), img.manifest), 'DIGEST_INVALID', 400);
    const ok = await put(img.digest, img.manifest);
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get('docker-content-digest'), img.digest);
    const huge = await put('big', Buffer.alloc(5 * 1024 * 1024, 0x20));
    await expectOciError(huge, 'SIZE_INVALID', 413);
  });

  test('index: children must exist; Docker schema2 types kept', async () => {
    const img = makeImage([20]);
    await pushImage(url, repo, 'child', img);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          {
            mediaType: OCI_MANIFEST,
            digest: img.digest,
            size: img.manifest.length,
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      }),
    );
    const put = await fetch(`${url}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_INDEX },
      body: index,
    });
    assert.equal(put.status, 201);
    const get = await fetch(`${url}/v2/${repo}/manifests/multi`, {
      headers: { Accept: `${OCI_INDEX}, ${OCI_MANIFEST}` },
    });
    assert.equal(get.headers.get('content-type'), OCI_INDEX);
    await get.arrayBuffer();
    const missing = index.toString().replace(img.digest, sha256('none'));
    const bad = await fetch(`${url}/v2/${repo}/manifests/multi2`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_INDEX },
      body: missing,
    });
    await expectOciError(bad, 'MANIFEST_BLOB_UNKNOWN');
    const docker = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          digest: sha256(img.config),
          size: img.config.length,
        },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            digest: sha256(img.layers[0]!),
            size: 20,
          },
        ],
      }),
    );
    const dput = await fetch(`${url}/v2/${repo}/manifests/docker`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' },
      body: docker,
    });
    assert.equal(dput.status, 201);
    const dget = await fetch(`${url}/v2/${repo}/manifests/docker`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(
      dget.headers.get('content-type'),
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    assert.deepEqual(Buffer.from(await dget.arrayBuffer()), docker);
  });
});

describe('mount', () => {
  test('cross-repository mount, or a fresh session when it cannot', async () => {
    const data = randomBytes(2048);
    const d = await pushBlob(url, `${ns}/src`, data);
    const res = await fetch(`${url}/v2/${ns}/dst/blobs/uploads/?mount=${d}&from=${ns}/src`, {
      method: 'POST',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('docker-content-digest'), d);
    const head = await fetch(`${url}/v2/${ns}/dst/blobs/${d}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const miss = await fetch(`${url}/v2/${ns}/dst2/blobs/uploads/?mount=${d}&from=${ns}/nothere`, {
      method: 'POST',
    });
    assert.equal(miss.status, 202);
    assert.ok(miss.headers.get('location')?.includes('/blobs/uploads/'));
    // A blob is not visible in a repository it was never linked to.
    assert.equal((await fetch(`${url}/v2/${ns}/dst2/blobs/${d}`, { method: 'HEAD' })).status, 404);
  });
});

describe('discovery', () => {
  const repo = `${ns}/tags`;
  test('tags sorted with n/last pagination and Link', async () => {
    const img = makeImage([10]);
    for (const tag of ['b', 'a', 'd', 'c', 'e']) await pushImage(url, repo, tag, img);
    const all = await (await fetch(`${url}/v2/${repo}/tags/list`)).json();
    assert.deepEqual(all, { name: repo, tags: ['a', 'b', 'c', 'd', 'e'] });
    const p1 = await fetch(`${url}/v2/${repo}/tags/list?n=2`);
    assert.deepEqual(((await p1.json()) as { tags: string[] }).tags, ['a', 'b']);
    const link = p1.headers.get('link')!;
    assert.match(link, /rel="next"/);
    const next = /<([^>]+)>/.exec(link)![1]!;
    const p2 = await fetch(new URL(next, url));
    assert.deepEqual(((await p2.json()) as { tags: string[] }).tags, ['c', 'd']);
    const p3 = await fetch(`${url}/v2/${repo}/tags/list?n=2&last=d`);
    assert.deepEqual(((await p3.json()) as { tags: string[] }).tags, ['e']);
    assert.equal(p3.headers.get('link'), null);
    await expectOciError(await fetch(`${url}/v2/${ns}/never/tags/list`), 'NAME_UNKNOWN', 404);
    await expectOciError(
      await fetch(`${url}/v2/${repo}/tags/list?n=-1`),
      'PAGINATION_NUMBER_INVALID',
      400,
    );
  });

  test('catalog with pagination', async () => {
    const res = await fetch(`${url}/v2/_catalog?n=1`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { repositories: string[] };
    assert.equal(body.repositories.length, 1);
    assert.match(res.headers.get('link') ?? '', /_catalog\?n=1&last=/);
    const full = (await (await fetch(`${url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.ok(full.repositories.includes(repo));
    assert.deepEqual([...full.repositories].sort(), full.repositories);
  });

  test('referrers: OCI-Subject, artifactType filter, empty index for unknown digests', async () => {
    const rrepo = `${ns}/refs`;
    const subject = makeImage([10]);
    await pushImage(url, rrepo, 'app', subject);
    const desc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
    const sbom = makeImage([10], { artifactType: 'application/spdx+json', subject: desc });
    await pushImage(url, rrepo, sbom.digest, sbom);
    const sig = makeImage([11], { artifactType: 'application/vnd.dev.cosign', subject: desc });
    for (const b of [sig.config, ...sig.layers]) await pushBlob(url, rrepo, b);
    const put = await fetch(`${url}/v2/${rrepo}/manifests/${sig.digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: sig.manifest,
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('oci-subject'), subject.digest);
    const all = await fetch(`${url}/v2/${rrepo}/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const idx = (await all.json()) as {
      manifests: Array<{ digest: string; artifactType: string }>;
    };
    assert.deepEqual(idx.manifests.map((m) => m.digest).sort(), [sbom.digest, sig.digest].sort());
    const filtered = await fetch(
      `${url}/v2/${rrepo}/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`,
    );
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(
      ((await filtered.json()) as typeof idx).manifests.map((m) => m.digest),
      [sbom.digest],
    );
    const none = await fetch(`${url}/v2/${rrepo}/referrers/${sha256('unknown')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(((await none.json()) as typeof idx).manifests, []);
    // A subject that does not exist (yet) is accepted.
    const orphan = makeImage([12], { subject: { ...desc, digest: sha256('missing subject') } });
    await pushImage(url, rrepo, orphan.digest, orphan);
  });
});

describe('content management', () => {
  test('deleting a tag removes only the tag; deleting by digest removes the manifest', async () => {
    const repo = `${ns}/del`;
    const img = makeImage([10]);
    await pushImage(url, repo, 'v1', img);
    await pushImage(url, repo, 'v2', img);
    assert.equal((await fetch(`${url}/v2/${repo}/manifests/v1`, { method: 'DELETE' })).status, 202);
    await expectOciError(await fetch(`${url}/v2/${repo}/manifests/v1`), 'MANIFEST_UNKNOWN', 404);
    assert.equal((await fetch(`${url}/v2/${repo}/manifests/${img.digest}`)).status, 200);
    assert.equal((await fetch(`${url}/v2/${repo}/manifests/v2`)).status, 200);
    assert.equal(
      (await fetch(`${url}/v2/${repo}/manifests/${img.digest}`, { method: 'DELETE' })).status,
      202,
    );
    await expectOciError(
      await fetch(`${url}/v2/${repo}/manifests/${img.digest}`),
      'MANIFEST_UNKNOWN',
      404,
    );
    await expectOciError(await fetch(`${url}/v2/${repo}/manifests/v2`), 'MANIFEST_UNKNOWN', 404);
    await expectOciError(
      await fetch(`${url}/v2/${repo}/manifests/${img.digest}`, { method: 'DELETE' }),
      'MANIFEST_UNKNOWN',
      404,
    );
    const layer = sha256(img.layers[0]!);
    assert.equal(
      (await fetch(`${url}/v2/${repo}/blobs/${layer}`, { method: 'DELETE' })).status,
      202,
    );
    await expectOciError(await fetch(`${url}/v2/${repo}/blobs/${layer}`), 'BLOB_UNKNOWN', 404);
    await expectOciError(
      await fetch(`${url}/v2/${repo}/blobs/${layer}`, { method: 'DELETE' }),
      'BLOB_UNKNOWN',
      404,
    );
  });
});
