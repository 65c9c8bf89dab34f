// tsregistry with `storage.s3` on a real radosgw: skopeo push and pull (blobs land in the
// bucket, not on disk), a chunked upload whose second chunk reaches a restarted registry (the
// session's bytes live in the bucket), GC deleting the objects of a deleted image, blob GET
// redirects to presigned URLs, and a one-line error for a bucket that does not exist.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { startServer } from '../../registry/server.js';
import {
  makeImage,
  run,
  sha256,
  startRegistry,
  testConfig,
  writeOciLayout,
  type TestRegistry,
} from '../helpers/registry-server.js';
import { startRadosgw, type TestRadosgw } from '../helpers/radosgw.js';
import { startPostgres } from '../helpers/postgres.js';

const mib = 1024 * 1024;
let rgw: TestRadosgw;
let bucket: string;
let dir: string;
before(async () => {
  rgw = await startRadosgw();
  bucket = await rgw.bucket();
  dir = mkdtempSync(join(tmpdir(), 'tsreg-s3-'));
});
after(async () => {
  await rgw?.close();
  rmSync(dir, { recursive: true, force: true });
});

const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 120_000 });

function onS3(root: string, extra: Record<string, unknown> = {}): Promise<TestRegistry> {
  return startRegistry({
    root,
    configure: (c) => {
      c.storage.s3 = rgw.config(bucket, { rootdirectory: 'reg', chunksize: 5 * mib, ...extra });
    },
  });
}

async function objectExists(digest: string): Promise<boolean> {
  const hex = digest.slice('sha256:'.length);
  const Key = `reg/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
  return await rgw.client.send(new HeadObjectCommand({ Bucket: bucket, Key })).then(
    () => true,
    (err: unknown) => {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return false;
      throw err;
    },
  );
}

test(
  'skopeo push/pull on S3, chunked upload across a restart, GC deletes',
  { timeout: 240_000 },
  async () => {
    const root = join(dir, 'data');
    let reg = await onS3(root);
    try {
      const img = makeImage([7 * mib, 1000]);
      writeOciLayout(join(dir, 'in'), 'v1', img);
      let r = await skopeo(
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${join(dir, 'in')}:v1`,
        `docker://${reg.host}/s3/app:v1`,
      );
      assert.equal(r.status, 0, r.stderr);
      for (const l of img.layers)
        assert.ok(await objectExists(sha256(l)), 'layer stored in the bucket');
      assert.equal(existsSync(join(root, 'blobs')), false, 'no blob on the local disk');
      r = await skopeo(
        'copy',
        '--preserve-digests',
        '--src-tls-verify=false',
        `docker://${reg.host}/s3/app:v1`,
        `oci:${join(dir, 'out')}:v1`,
      );
      assert.equal(r.status, 0, r.stderr);
      for (const l of img.layers)
        assert.equal(
          sha256(readFileSync(join(dir, 'out', 'blobs', 'sha256', sha256(l).slice(7)))),
          sha256(l),
        );

      // Chunked upload: the first chunk before a restart, the second and the PUT after it.
      const blob = randomBytes(9 * mib);
      const digest = sha256(blob);
      let res = await fetch(`${reg.url}/v2/s3/chunked/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      const location = new URL(res.headers.get('location')!, reg.url).pathname;
      const first = blob.subarray(0, 6 * mib);
      res = await fetch(`${reg.url}${location}`, {
        method: 'PATCH',
        body: first,
        headers: {
          'Content-Range': `0-${first.length - 1}`,
          'Content-Type': 'application/octet-stream',
        },
      });
      assert.equal(res.status, 202, await res.text());
      await reg.close();
      reg = await onS3(root);
      res = await fetch(`${reg.url}${location}`, {
        method: 'PATCH',
        body: blob.subarray(first.length),
        headers: {
          'Content-Range': `${first.length}-${blob.length - 1}`,
          'Content-Type': 'application/octet-stream',
        },
      });
      assert.equal(res.status, 202, await res.text());
      res = await fetch(`${reg.url}${location}?digest=${digest}`, { method: 'PUT' });
      assert.equal(res.status, 201, await res.text());
      res = await fetch(`${reg.url}/v2/s3/chunked/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
      const incomplete = await rgw.client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'reg/' }),
      );
      assert.deepEqual(incomplete.Uploads ?? [], [], 'no multipart upload left open');

      // Delete one image; GC removes its objects from the bucket and keeps the other image's.
      const kept = makeImage([2000]);
      writeOciLayout(join(dir, 'kept'), 'v1', kept);
      r = await skopeo(
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${join(dir, 'kept')}:v1`,
        `docker://${reg.host}/s3/kept:v1`,
      );
      assert.equal(r.status, 0, r.stderr);
      r = await skopeo('delete', '--tls-verify=false', `docker://${reg.host}/s3/app:v1`);
      assert.equal(r.status, 0, r.stderr);
      const report = await reg.running.gc.run({ dryRun: false, untagged: true, grace: 0 });
      for (const l of img.layers) {
        assert.ok(report.blobsDeleted.includes(sha256(l)), `GC deleted ${sha256(l)}`);
        assert.equal(await objectExists(sha256(l)), false, 'object gone from the bucket');
      }
      for (const b of [...kept.layers, kept.config, kept.manifest])
        assert.ok(await objectExists(sha256(b)), 'a blob of a tagged image survives GC');
      r = await skopeo(
        'copy',
        '--src-tls-verify=false',
        `docker://${reg.host}/s3/kept:v1`,
        `oci:${join(dir, 'kept-out')}:v1`,
      );
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await reg.close();
    }
  },
);

test('redirect: blob GETs answer 307 to a presigned URL that serves the blob', async () => {
  const reg = await onS3(join(dir, 'redirect'), { redirect: true });
  try {
    const blob = randomBytes(100_000);
    const digest = sha256(blob);
    let res = await fetch(`${reg.url}/v2/s3/redir/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
    });
    assert.equal(res.status, 201, await res.text());
    res = await fetch(`${reg.url}/v2/s3/redir/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(res.status, 307);
    const to = res.headers.get('location')!;
    assert.ok(to.startsWith(rgw.endpoint), to);
    res = await fetch(to);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
  } finally {
    await reg.close();
  }
});

test('a bucket that does not exist stops the start with a one-line error', async () => {
  const config = testConfig(join(dir, 'nobucket'));
  config.storage.s3 = rgw.config('tsdock-no-such-bucket');
  await assert.rejects(startServer(config), (err: Error) => {
    assert.match(err.message, /tsdock-no-such-bucket.*no such bucket/);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
});

test('the upload purger aborts multipart uploads a crashed writer left open', async () => {
  const reg = await onS3(join(dir, 'purge'));
  try {
    const Key = 'reg/uploads/00000000-0000-4000-8000-000000000000/data';
    await rgw.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const open = async () =>
      (
        (await rgw.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: Key })))
          .Uploads ?? []
      ).length;
    assert.equal(await open(), 1);
    await reg.running.purger.purge(Date.now()); // younger than the purge age: kept
    assert.equal(await open(), 1);
    await reg.running.purger.purge(Date.now() + 8 * 24 * 3600 * 1000);
    assert.equal(await open(), 0);
  } finally {
    await reg.close();
  }
});

test(
  'two replicas on one bucket and one PostgreSQL: chunks alternate between them',
  { timeout: 120_000 },
  async () => {
    const pg = await startPostgres();
    const replicas: TestRegistry[] = [];
    try {
      const dsn = await pg.createDatabase('s3replicas');
      for (const name of ['a', 'b'])
        replicas.push(
          await startRegistry({
            root: join(dir, `replica-${name}`),
            configure: (c) => {
              c.storage.s3 = rgw.config(bucket, { rootdirectory: 'shared', chunksize: 5 * mib });
              c.metadata = { postgres: { dsn, poolsize: 2, connecttimeout: 5, querytimeout: 30 } };
            },
          }),
        );
      const [a, b] = replicas as [TestRegistry, TestRegistry];
      const blob = randomBytes(13 * mib);
      const digest = sha256(blob);
      let res = await fetch(`${a.url}/v2/s3/replicas/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      const location = new URL(res.headers.get('location')!, a.url).pathname;
      const cuts = [0, 6 * mib, 7 * mib, 12 * mib, blob.length];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const via = i % 2 ? b : a; // a, b, a, b
        res = await fetch(`${via.url}${location}`, {
          method: 'PATCH',
          body: blob.subarray(cuts[i], cuts[i + 1]),
          headers: {
            'Content-Range': `${cuts[i]}-${cuts[i + 1]! - 1}`,
            'Content-Type': 'application/octet-stream',
          },
        });
        assert.equal(res.status, 202, `chunk ${i} via ${i % 2 ? 'b' : 'a'}: ${await res.text()}`);
        assert.equal(res.headers.get('range'), `0-${cuts[i + 1]! - 1}`);
      }
      res = await fetch(`${a.url}${location}`, { method: 'GET' });
      assert.equal(res.headers.get('range'), `0-${blob.length - 1}`, "status on a sees b's chunk");
      res = await fetch(`${a.url}${location}?digest=${digest}`, { method: 'PUT' });
      assert.equal(res.status, 201, await res.text());
      res = await fetch(`${b.url}/v2/s3/replicas/blobs/${digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
    } finally {
      for (const r of replicas) await r.close();
      await pg.close();
    }
  },
);

// Last: stops the cluster.
test('object storage down: blob requests answer 503 UNAVAILABLE with Retry-After', async () => {
  const reg = await onS3(join(dir, 'down'));
  try {
    const blob = randomBytes(1000);
    const digest = sha256(blob);
    let res = await fetch(`${reg.url}/v2/s3/down/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
    });
    assert.equal(res.status, 201, await res.text());
    await rgw.close();
    res = await fetch(`${reg.url}/v2/s3/down/blobs/${digest}`);
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), '10');
    const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, /object storage unavailable/);
    res = await fetch(`${reg.url}/v2/s3/down/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 503);
  } finally {
    await reg.close();
  }
});
