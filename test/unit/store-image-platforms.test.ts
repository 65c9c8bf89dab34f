// The platforms of stored indexes as tsimages (--tree, {{.Platforms}}) and tsinspect (Manifests)
// show them: platforms not pulled are marked, and an index without this machine's platform is
// listed and inspected through its first stored platform instead of being hidden.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Descriptor } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import { currentPlatform } from '../../shared/platform.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { inspectImage } from '../../shared/store/image-inspect.js';
import { formatTree, listImageRows } from '../../shared/store/image-list.js';
import { loadImage } from '../../shared/store/image.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
async function freshStore(): Promise<ContentStore> {
  const d = mkdtempSync(join(tmpdir(), 'store-platforms-'));
  dirs.push(d);
  return ContentStore.open(d);
}

/** A one-layer image manifest for `arch` (stored, or only its descriptor when `store` is false). */
async function image(store: ContentStore, arch: string, keep = true): Promise<Descriptor> {
  const layer = {
    mediaType: MediaType.OciLayerGzip,
    ...(await store.writeBlob(Buffer.from(arch))),
  };
  const config = await store.putJson(
    {
      architecture: arch,
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    },
    MediaType.OciConfig,
  );
  const doc = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] };
  if (keep) return store.putJson(doc, MediaType.OciManifest);
  const { digestOf } = await import('../../shared/digest.js');
  const bytes = Buffer.from(JSON.stringify(doc));
  return { mediaType: MediaType.OciManifest, digest: digestOf(bytes), size: bytes.length };
}

async function tagIndex(store: ContentStore, ref: string, entries: [Descriptor, string][]) {
  const index = await store.putJson(
    {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: entries.map(([d, arch]) => ({
        ...d,
        platform: { os: 'linux', architecture: arch },
      })),
    },
    MediaType.OciIndex,
  );
  await store.tag(ref, index);
  return index;
}

const host = currentPlatform().architecture;
const foreign = host === 'arm64' ? 'amd64' : 'arm64';

test('tsimages lists an index with its platforms; one not pulled is marked', async () => {
  const store = await freshStore();
  await tagIndex(store, 'multi:1', [
    [await image(store, host), host],
    [await image(store, foreign, false), foreign],
  ]);
  const [row] = await listImageRows(store);
  assert.equal(row!.Platforms, `linux/${host},linux/${foreign}`);
  const tree = formatTree([row!]).split('\n');
  assert.match(tree[1]!, new RegExp(`^multi:1 +[0-9a-f]{12} +\\S+B`));
  assert.match(tree[2]!, new RegExp(`^├─ linux/${host} +[0-9a-f]{12} +\\S+B$`));
  assert.match(tree[3]!, new RegExp(`^└─ linux/${foreign} +[0-9a-f]{12} +0B +\\(not stored\\)$`));
  // tsinspect --platform: that platform's image, or an error when it is not stored
  const hostDoc = await inspectImage(store, 'multi:1', { os: 'linux', architecture: host });
  assert.equal(hostDoc['Architecture'], host);
  await assert.rejects(inspectImage(store, 'multi:1', { os: 'linux', architecture: foreign }));
});

test('an index without this machine platform is listed and inspected, with its Manifests', async () => {
  const store = await freshStore();
  const index = await tagIndex(store, 'other:1', [[await image(store, foreign), foreign]]);
  const rows = await listImageRows(store);
  assert.deepEqual(
    rows.map((r) => [r.Repository, r.Platforms]),
    [['other', `linux/${foreign}`]],
  );
  const doc = await inspectImage(store, 'other:1');
  assert.equal(doc['Architecture'], foreign);
  assert.deepEqual((doc['Descriptor'] as Descriptor).digest, index.digest);
  const manifests = doc['Manifests'] as { Available: boolean; ImageData: { Platform: unknown } }[];
  assert.deepEqual(
    manifests.map((m) => [m.Available, m.ImageData.Platform]),
    [[true, { os: 'linux', architecture: foreign }]],
  );
});

test('the images of an index are found by their ids (tsimages ID, a container of another platform)', async () => {
  const store = await freshStore();
  const hostImage = await image(store, host);
  const foreignImage = await image(store, foreign);
  await tagIndex(store, 'both:1', [
    [hostImage, host],
    [foreignImage, foreign],
  ]);
  for (const [desc, arch] of [
    [hostImage, host],
    [foreignImage, foreign],
  ] as const) {
    const config = JSON.parse((await store.readBlob(desc.digest)).toString()).config.digest;
    for (const id of [config, config.slice(7, 19)]) {
      const found = await loadImage(store, id, { os: 'linux', architecture: arch });
      assert.equal(found.descriptor.digest, desc.digest, id);
      assert.equal(found.config.architecture, arch);
    }
  }
});
