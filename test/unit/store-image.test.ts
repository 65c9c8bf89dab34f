// Images over the store: index -> platform manifest, sizes and ids as docker shows them, the
// tsimages rows, and docker rmi semantics (untag, delete when unnamed, shared blobs kept).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NotFoundError } from '../../shared/errors.js';
import type { Descriptor } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { inspectImage } from '../../shared/store/image-inspect.js';
import { humanDuration, humanSize, listImageRows } from '../../shared/store/image-list.js';
import { imageSize, loadImage, shortId } from '../../shared/store/image.js';
import { removeImage } from '../../shared/store/remove-image.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
async function freshStore(): Promise<ContentStore> {
  const d = mkdtempSync(join(tmpdir(), 'store-image-'));
  dirs.push(d);
  return ContentStore.open(d);
}

async function putImage(store: ContentStore, arch: string, layers: string[]): Promise<Descriptor> {
  const blobs = [];
  for (const l of layers)
    blobs.push({ mediaType: MediaType.OciLayerGzip, ...(await store.writeBlob(Buffer.from(l))) });
  const config = await store.putJson(
    {
      architecture: arch,
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: blobs.map((b) => b.digest) },
    },
    MediaType.OciConfig,
  );
  return store.putJson(
    { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: blobs },
    MediaType.OciManifest,
  );
}

test('an index resolves to the platform manifest; size and id as docker shows them', async () => {
  const store = await freshStore();
  const amd = await putImage(store, 'amd64', ['a1', 'a2']);
  const arm = await putImage(store, 'arm64', ['r1']);
  const index = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    },
    MediaType.OciIndex,
  );
  await store.tag('multi:1', index);
  const a = await loadImage(store, 'multi:1', { os: 'linux', architecture: 'amd64' });
  assert.equal(a.descriptor.digest, amd.digest);
  assert.equal(a.indexDescriptor?.digest, index.digest);
  assert.equal(a.config.architecture, 'amd64');
  assert.equal(imageSize(a), 2 + 2 + a.configDescriptor.size);
  assert.equal(shortId(a.configDescriptor.digest), a.configDescriptor.digest.slice(7, 19));
  const r = await loadImage(store, 'multi:1', { os: 'linux', architecture: 'arm64' });
  assert.equal(r.descriptor.digest, arm.digest);
  await assert.rejects(
    loadImage(store, 'multi:1', { os: 'linux', architecture: 's390x' }),
    NotFoundError,
  );
  const doc = await inspectImage(store, 'multi:1');
  assert.deepEqual(doc.RepoTags, ['multi:1']);
  assert.deepEqual(doc.RepoDigests, [`multi@${index.digest}`]);
});

test('humanSize and humanDuration match docker', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(4260), '4.26kB');
  assert.equal(humanSize(1088661), '1.09MB');
  assert.equal(humanSize(1_100_000), '1.1MB');
  assert.equal(humanSize(2e9), '2GB');
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(45_000), '45 seconds');
  assert.equal(humanDuration(90_000), 'About a minute');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
  assert.equal(humanDuration(400 * 86400_000), '13 months');
});

test('tsimages rows: one per tag, newest first, untagged as <none>', async () => {
  const store = await freshStore();
  const img = await putImage(store, 'amd64', ['x']);
  await store.tag('one', img);
  await store.tag('127.0.0.1:5000/a/b:v2', img);
  const rows = await listImageRows(store, { now: Date.parse('2024-01-02T06:04:05Z') });
  assert.deepEqual(
    rows.map((r) => [r.Repository, r.Tag, r.CreatedSince]),
    [
      ['one', 'latest', '3 hours ago'],
      ['127.0.0.1:5000/a/b', 'v2', '3 hours ago'],
    ],
  );
  assert.match(rows[0]!.ID, /^[0-9a-f]{12}$/);
});

test('removeImage: untag, then delete when unnamed; shared blobs and in-use images kept', async () => {
  const store = await freshStore();
  const a = await putImage(store, 'amd64', ['shared', 'only-a']);
  const b = await putImage(store, 'amd64', ['shared', 'only-b']);
  await store.tag('a:1', a);
  await store.tag('a:2', a);
  await store.tag('b:1', b);
  assert.deepEqual(await removeImage(store, 'a:1'), { untagged: ['a:1'], deleted: [] });
  await assert.rejects(
    removeImage(store, 'a:2', { inUse: async () => 'c1' }),
    /container c1 is using/,
  );
  const res = await removeImage(store, 'a:2');
  assert.deepEqual(res.untagged, ['a:2']);
  assert.equal(res.deleted.length, 3); // manifest, config, only-a; "shared" stays for b
  assert.ok(await store.hasBlob((await loadImage(store, 'b:1')).manifest.layers[0]!.digest));
  assert.equal(await store.hasBlob(a.digest), false);
  await assert.rejects(removeImage(store, 'a:2'), NotFoundError);
});
