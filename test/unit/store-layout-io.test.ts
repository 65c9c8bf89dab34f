// Import/export of image archives against hostile and broken input: a blob whose bytes do not
// match its name, a truncated archive, paths escaping the archive, missing blobs, not an archive;
// none of them tags anything. Plus the round trip through every export format.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { readTar } from '../../shared/tar/tar-reader.js';
import { buildTar } from '../helpers/hostile-tar.js';
import { digestOf } from '../../shared/digest.js';
import { DigestMismatchError, InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { MediaType } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { exportLayout, importLayout, importLayoutStream } from '../../shared/store/layout-io.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'store-io-'));
  dirs.push(d);
  return d;
}

/** A tiny image as layout files: name -> bytes. */
function imageFiles(opts: { refName?: string; seed?: string } = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const layer = Buffer.from(`not really a tar, but bytes are bytes${opts.seed ?? ''}`);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [digestOf(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayer, digest: digestOf(layer), size: layer.length }],
    }),
  );
  for (const b of [layer, config, manifest]) files.set(`blobs/sha256/${digestOf(b).slice(7)}`, b);
  const desc = {
    mediaType: MediaType.OciManifest,
    digest: digestOf(manifest),
    size: manifest.length,
  };
  const annotations = opts.refName
    ? { 'org.opencontainers.image.ref.name': opts.refName }
    : undefined;
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  files.set(
    'index.json',
    Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations }] })),
  );
  return files;
}

async function tarOf(files: Map<string, Buffer>): Promise<Buffer> {
  return await buildTar([...files].map(([name, content]) => ({ name, content })));
}

function writeDir(files: Map<string, Buffer>): string {
  const dir = tempDir();
  for (const [name, data] of files) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

test('imports a layout dir and tar; names from full ref.name, refs, or none (kept by digest)', async () => {
  const store = await ContentStore.open(tempDir());
  const files = imageFiles({ refName: 'example.com/app:v1' });
  const [a] = await importLayout(store, writeDir(files));
  assert.deepEqual(a!.names, ['example.com/app:v1']);
  const [b] = await importLayoutStream(store, Readable.from([await tarOf(files)]), {
    refs: ['other:x'],
  });
  assert.deepEqual(b!.names, ['docker.io/library/other:x']);
  const gz = gzipSync(await tarOf(files));
  const [g] = await importLayoutStream(store, Readable.from([gz.subarray(0, 10), gz.subarray(10)]));
  assert.equal(g!.descriptor.digest, a!.descriptor.digest);
  const bare = imageFiles({ refName: 'latest', seed: 'untagged' });
  const [c] = await importLayout(store, writeDir(bare));
  assert.deepEqual(c!.names, []);
  const index = (await store.readIndex()).manifests;
  assert.ok(index.some((d) => d.digest === c!.descriptor.digest && !d.annotations));
});

test('a blob whose bytes do not match its name is refused and nothing is tagged', async () => {
  const files = imageFiles({ refName: 'example.com/app:v1' });
  const layerName = [...files.keys()].find((k) =>
    files.get(k)!.toString().startsWith('not really'),
  )!;
  files.set(layerName, Buffer.from('tampered content'));
  for (const asTar of [false, true]) {
    const store = await ContentStore.open(tempDir());
    const source = asTar ? join(tempDir(), 'x.tar') : writeDir(files);
    if (asTar) writeFileSync(source, await tarOf(files));
    await assert.rejects(
      importLayout(store, source),
      (e) => e instanceof DigestMismatchError || e instanceof InvalidInputError,
    );
    assert.deepEqual(await store.listImages(), []);
    assert.equal(await store.hasBlob(layerName.replace('blobs/sha256/', 'sha256:')), false);
  }
});

test('missing blobs, hostile paths, truncation and non-archives are clear errors', async () => {
  const store = await ContentStore.open(tempDir());
  const files = imageFiles({ refName: 'example.com/app:v1' });
  const missing = new Map(files);
  missing.delete(
    [...files.keys()].find(
      (k) => k.startsWith('blobs/') && files.get(k)!.toString().startsWith('not'),
    )!,
  );
  await assert.rejects(importLayout(store, writeDir(missing)), NotFoundError);
  const legacy = new Map([
    [
      'manifest.json',
      Buffer.from(JSON.stringify([{ Config: '../../etc/passwd', RepoTags: ['x:1'], Layers: [] }])),
    ],
  ]);
  await assert.rejects(importLayout(store, writeDir(legacy)), /unsafe path/);
  const full = await tarOf(files);
  const truncated = join(tempDir(), 'cut.tar');
  writeFileSync(truncated, full.subarray(0, 1500));
  await assert.rejects(importLayout(store, truncated));
  const junk = join(tempDir(), 'junk');
  writeFileSync(junk, 'hello');
  await assert.rejects(importLayout(store, junk));
  await assert.rejects(importLayout(store, tempDir()), /not an image archive/);
  assert.deepEqual(await store.listImages(), []);
});

test('export round trip through oci-dir, oci-tar and docker-tar', async () => {
  const store = await ContentStore.open(tempDir());
  const [img] = await importLayout(store, writeDir(imageFiles()), { refs: ['rt:1'] });
  const out = tempDir();
  await exportLayout(store, ['rt:1'], join(out, 'dir'), { format: 'oci-dir' });
  await exportLayout(store, ['rt:1'], join(out, 'oci.tar'), { format: 'oci-tar' });
  await exportLayout(store, ['rt:1'], join(out, 'docker.tar'), { format: 'docker-tar' });
  const index = JSON.parse(readFileSync(join(out, 'dir', 'index.json'), 'utf8'));
  assert.equal(
    index.manifests[0].annotations['org.opencontainers.image.ref.name'],
    'docker.io/library/rt:1',
  );
  for (const p of ['dir', 'oci.tar', 'docker.tar']) {
    const again = await ContentStore.open(tempDir());
    const [back] = await importLayout(again, join(out, p));
    assert.equal(back!.descriptor.digest, img!.descriptor.digest, p);
    assert.deepEqual(back!.names, ['docker.io/library/rt:1'], p);
  }
  // Deterministic tars: the same export twice is byte-identical.
  await exportLayout(store, ['rt:1'], join(out, 'oci2.tar'), { format: 'oci-tar' });
  assert.ok(readFileSync(join(out, 'oci.tar')).equals(readFileSync(join(out, 'oci2.tar'))));
  await assert.rejects(
    exportLayout(store, ['nope:1'], join(out, 'n.tar'), { format: 'oci-tar' }),
    NotFoundError,
  );
});

test('docker-tar: one manifest.json entry per image with all its names; failures leave no file', async () => {
  const store = await ContentStore.open(tempDir());
  const [img] = await importLayout(store, writeDir(imageFiles()), { refs: ['rt:1'] });
  await store.tag('example.com/rt:2', img!.descriptor);
  const out = join(tempDir(), 'd.tar');
  await exportLayout(store, ['rt:1', 'example.com/rt:2'], out, { format: 'docker-tar' });
  let manifest: { RepoTags: string[] }[] = [];
  for await (const e of readTar(Readable.from([readFileSync(out)]))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    if (e.header.path === 'manifest.json') manifest = JSON.parse(Buffer.concat(chunks).toString());
  }
  assert.deepEqual(
    manifest.map((m) => m.RepoTags),
    [['rt:1', 'example.com/rt:2']],
  );
  // A blob gone from the store: the export fails and leaves nothing at the destination.
  const layer = (await store.readIndex()).manifests[0]!;
  const parsed = JSON.parse((await store.readBlob(layer.digest)).toString());
  rmSync(store.blobPath(parsed.layers[0].digest));
  const broken = join(tempDir(), 'broken.tar');
  await assert.rejects(exportLayout(store, ['rt:1'], broken, { format: 'oci-tar' }), NotFoundError);
  assert.deepEqual(readdirSync(join(broken, '..')), []);
});
