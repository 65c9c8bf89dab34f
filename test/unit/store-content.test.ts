// Content store: blob writes are verified and atomic, tags round-trip through index.json,
// references / digests / id prefixes resolve, and gc removes only what nothing references.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { DigestMismatchError, InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { MediaType, REF_NAME_ANNOTATION } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function freshStore(): Promise<ContentStore> {
  const dir = mkdtempSync(join(tmpdir(), 'store-unit-'));
  dirs.push(dir);
  return ContentStore.open(dir);
}

function ingestFiles(store: ContentStore): string[] {
  return readdirSync(store.paths.ingestDir);
}

/** A tiny image: one layer, a config, a manifest; returns the manifest descriptor. */
async function putImage(store: ContentStore, seed: string) {
  const layer = await store.writeBlob(Buffer.from(`layer ${seed}`));
  const config = await store.putJson(
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } },
    MediaType.OciConfig,
  );
  const manifest = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers: [{ mediaType: MediaType.OciLayer, ...layer }],
    },
    MediaType.OciManifest,
  );
  return { layer, config, manifest };
}

test('open creates an OCI layout', async () => {
  const store = await freshStore();
  assert.deepEqual(JSON.parse(readFileSync(join(store.root, 'oci-layout'), 'utf8')), {
    imageLayoutVersion: '1.0.0',
  });
  assert.deepEqual(JSON.parse(readFileSync(join(store.root, 'index.json'), 'utf8')).manifests, []);
  await ContentStore.open(store.root); // idempotent
});

test('writeBlob from a buffer and a stream, read back and verified', async () => {
  const store = await freshStore();
  const data = Buffer.from('hello store');
  const a = await store.writeBlob(data);
  assert.equal(a.digest, digestOf(data));
  assert.equal(a.size, data.length);
  assert.deepEqual(await store.readBlob(a.digest), data);
  const big = Buffer.alloc(3 << 20, 7);
  const b = await store.writeBlob(Readable.from([big.subarray(0, 1000), big.subarray(1000)]), {
    digest: digestOf(big),
    size: big.length,
  });
  assert.equal(b.digest, digestOf(big));
  assert.equal(await store.statBlob(b.digest), big.length);
  const chunks: Buffer[] = [];
  for await (const c of store.openBlob(b.digest, { start: 100 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).length, big.length - 100);
  assert.deepEqual(ingestFiles(store), []);
});

test('a wrong digest or size stores nothing', async () => {
  const store = await freshStore();
  const data = Buffer.from('payload');
  const wrong = digestOf('something else');
  await assert.rejects(store.writeBlob(data, { digest: wrong }), DigestMismatchError);
  await assert.rejects(
    store.writeBlob(Readable.from([data]), { digest: wrong }),
    DigestMismatchError,
  );
  await assert.rejects(store.writeBlob(Readable.from([data]), { size: 3 }), InvalidInputError);
  assert.equal(await store.hasBlob(wrong), false);
  assert.equal(await store.hasBlob(digestOf(data)), false);
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(ingestFiles(store), []);
});

test('a failing source stream stores nothing', async () => {
  const store = await freshStore();
  const source = new Readable({
    read() {
      this.push(Buffer.alloc(1000));
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(store.writeBlob(source), /connection reset/);
  assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  assert.deepEqual(ingestFiles(store), []);
});

test('blobWriter: pipe, commit; abort leaves nothing', async () => {
  const store = await freshStore();
  const w = await store.blobWriter();
  w.stream.write('part one, ');
  w.stream.write('part two');
  const res = await w.commit({ digest: digestOf('part one, part two') });
  assert.equal((await store.readBlob(res.digest)).toString(), 'part one, part two');
  const w2 = await store.blobWriter();
  w2.stream.write('discard me');
  await w2.abort();
  assert.equal(await store.hasBlob(digestOf('discard me')), false);
  assert.deepEqual(ingestFiles(store), []);
});

test('readBlob detects a corrupted small blob', async () => {
  const store = await freshStore();
  const { digest } = await store.writeBlob(Buffer.from('{"a":1}'));
  rmSync(store.blobPath(digest));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(store.blobPath(digest), '{"a":2}');
  await assert.rejects(store.readBlob(digest), DigestMismatchError);
  await assert.rejects(store.readBlob(digestOf('missing')), NotFoundError);
  assert.throws(() => store.openBlob(digestOf('missing')), NotFoundError);
});

test('tag, list, resolve and untag with full references in index.json', async () => {
  const store = await freshStore();
  const { manifest, config } = await putImage(store, 'a');
  await store.tag('busybox', manifest);
  await store.tag('127.0.0.1:5000/team/app:v1', manifest);
  const index = JSON.parse(readFileSync(join(store.root, 'index.json'), 'utf8'));
  assert.deepEqual(
    index.manifests.map(
      (d: { annotations: Record<string, string> }) => d.annotations[REF_NAME_ANNOTATION],
    ),
    ['docker.io/library/busybox:latest', '127.0.0.1:5000/team/app:v1'],
  );
  assert.deepEqual(
    (await store.listImages()).map((i) => i.name),
    ['docker.io/library/busybox:latest', '127.0.0.1:5000/team/app:v1'],
  );
  for (const ref of [
    'busybox',
    'busybox:latest',
    'docker.io/library/busybox:latest',
    `busybox@${manifest.digest}`,
    manifest.digest,
    config.digest,
    config.digest.slice(7, 19),
    manifest.digest.slice(7, 11),
  ]) {
    assert.equal((await store.resolve(ref)).digest, manifest.digest, ref);
  }
  await assert.rejects(store.resolve('busybox:other'), NotFoundError);
  await assert.rejects(store.resolve('abcdef0123'), NotFoundError);
  // Retag replaces; untag removes just that name.
  const second = await putImage(store, 'b');
  await store.tag('busybox', second.manifest);
  assert.equal((await store.resolve('busybox')).digest, second.manifest.digest);
  assert.equal((await store.listImages()).length, 2);
  assert.equal((await store.untag('busybox')).digest, second.manifest.digest);
  await assert.rejects(store.untag('busybox'), NotFoundError);
  await assert.rejects(store.tag('x@' + manifest.digest, manifest), InvalidInputError);
  await assert.rejects(
    store.tag('missing', { ...manifest, digest: digestOf('nope') }),
    NotFoundError,
  );
});

test('an ambiguous id prefix is refused', async () => {
  const store = await freshStore();
  const img = await putImage(store, 'amb');
  // Two manifests sharing one config: the config id prefix matches both.
  const other = await store.putJson(
    {
      ...JSON.parse((await store.readBlob(img.manifest.digest)).toString()),
      annotations: { a: 'b' },
    },
    MediaType.OciManifest,
  );
  await store.tag('one', img.manifest);
  await store.tag('two', other);
  await assert.rejects(store.resolve(img.config.digest.slice(7, 19)), /ambiguous/);
  assert.equal((await store.resolve(other.digest.slice(7, 19))).digest, other.digest);
});

test('gc keeps referenced and young blobs, removes old unreferenced ones and crashed temp files', async () => {
  const store = await freshStore();
  const kept = await putImage(store, 'kept');
  await store.tag('kept', kept.manifest);
  const dropped = await putImage(store, 'dropped');
  const loose = await store.writeBlob(Buffer.from('young and loose'));
  // Nothing is old yet: nothing goes.
  assert.deepEqual((await store.gc()).removed, []);
  const old = (Date.now() - 3600_000) / 1000;
  for (const d of [
    kept.layer,
    kept.config,
    kept.manifest,
    dropped.layer,
    dropped.config,
    dropped.manifest,
  ])
    utimesSync(store.blobPath(d.digest), old, old);
  const res = await store.gc();
  assert.deepEqual(
    new Set(res.removed),
    new Set([dropped.layer.digest, dropped.config.digest, dropped.manifest.digest]),
  );
  assert.ok(res.freedBytes > 0);
  assert.ok(await store.hasBlob(kept.layer.digest));
  assert.ok(await store.hasBlob(loose.digest));
});

test('gc: a young manifest protects old blobs it references; referrers follow their subject', async () => {
  const store = await freshStore();
  const img = await putImage(store, 'x');
  const sig = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/example',
      config: { mediaType: MediaType.OciEmpty, digest: digestOf('{}'), size: 2 },
      layers: [],
      subject: img.manifest,
    },
    MediaType.OciManifest,
  );
  await store.writeBlob(Buffer.from('{}'));
  const old = (Date.now() - 3600_000) / 1000;
  for (const d of [img.layer, img.config]) utimesSync(store.blobPath(d.digest), old, old);
  assert.deepEqual((await store.gc()).removed, []);
  await store.tag('x', img.manifest);
  for (const d of [img.manifest, sig]) utimesSync(store.blobPath(d.digest), old, old);
  utimesSync(store.blobPath(digestOf('{}')), old, old);
  assert.deepEqual((await store.gc()).removed, []);
  await store.untag('x');
  const res = await store.gc();
  assert.equal(res.removed.length, 5);
});

test('gc with candidates removes an untagged image at once, but not blobs touched since', async () => {
  const store = await freshStore();
  const img = await putImage(store, 'c');
  await store.tag('c', img.manifest);
  const removed = await store.untag('c');
  const before = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  await store.writeBlob(Buffer.from('layer c')); // a concurrent writer reuses the layer
  const res = await store.gc({ candidates: [removed.digest], candidatesBefore: before });
  assert.deepEqual(new Set(res.removed), new Set([img.config.digest, img.manifest.digest]));
  assert.ok(await store.hasBlob(img.layer.digest));
});

test('gc removes temp files of dead writers', async () => {
  const store = await freshStore();
  const { writeFileSync } = await import('node:fs');
  const orphan = join(store.paths.ingestDir, '999999999-deadbeef');
  writeFileSync(orphan, 'partial');
  const earlier = (Date.now() - 2000) / 1000;
  utimesSync(orphan, earlier, earlier);
  const live = await store.blobWriter();
  live.stream.write('in flight');
  await store.gc();
  assert.equal(existsSync(orphan), false);
  const res = await live.commit();
  assert.ok(await store.hasBlob(res.digest));
});
