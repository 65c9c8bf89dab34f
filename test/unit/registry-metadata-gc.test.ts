// The LevelDB metadata store against the shared MetadataStore contract (test/helpers/
// metadata-contract.ts), and garbage collection with untagged manifests, on a registry in a
// temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LevelMetadataStore } from '../../registry/metadata/level-store.js';
import { Registry } from '../../registry/services/registry.js';
import { GarbageCollector } from '../../registry/gc.js';
import { makeImage, sha256 } from '../helpers/registry-server.js';
import { metadataContract } from '../helpers/metadata-contract.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

metadataContract({
  name: 'leveldb',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'tsreg-meta-'));
    const store = new LevelMetadataStore(dir);
    await store.open();
    return {
      store,
      async reopen() {
        await store.close();
        const again = new LevelMetadataStore(dir);
        await again.open();
        return again;
      },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

test('gc: untagged manifests (opt-in) and their blobs go; tagged, index children and referrers stay', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-gc-'));
  const registry = await Registry.openFilesystem(root);
  try {
    const push = async (repo: string, img: ReturnType<typeof makeImage>, ref: string) => {
      for (const b of [img.config, ...img.layers]) {
        const s = await registry.uploads.start(repo);
        await registry.uploads.complete(repo, s.uuid, sha256(b), Readable.from([b]));
      }
      await registry.manifests.put(repo, ref, img.manifest, OCI);
    };
    const tagged = makeImage([100]);
    const untagged = makeImage([101]);
    const child = makeImage([102]);
    const referrer = makeImage([103], {
      subject: { mediaType: OCI, digest: tagged.digest, size: tagged.manifest.length },
    });
    await push('r', tagged, 'v1');
    await push('r', untagged, untagged.digest);
    await push('r', child, child.digest);
    await push('r', referrer, referrer.digest);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: OCI, digest: child.digest, size: child.manifest.length }],
      }),
    );
    await registry.manifests.put('r', 'multi', index, 'application/vnd.oci.image.index.v1+json');
    const dry = await new GarbageCollector(registry, { untagged: true, grace: 0 }).run({
      dryRun: true,
    });
    assert.deepEqual(
      dry.manifestsDeleted.map((m) => m.digest),
      [untagged.digest],
    );
    assert.ok(dry.blobsDeleted.includes(sha256(untagged.layers[0]!)));
    assert.ok(await registry.blobs.size(sha256(untagged.layers[0]!)), 'dry run deletes nothing');
    const keepAll = await new GarbageCollector(registry, { untagged: false, grace: 0 }).run({
      dryRun: true,
    });
    assert.deepEqual(keepAll.blobsDeleted, [], 'without --untagged every manifest keeps its blobs');
    const report = await new GarbageCollector(registry, { untagged: true, grace: 0 }).run({
      dryRun: false,
    });
    assert.equal(report.manifestsDeleted.length, 1);
    assert.equal(await registry.blobs.size(sha256(untagged.layers[0]!)), undefined);
    assert.equal(await registry.blobs.size(untagged.digest), undefined);
    for (const img of [tagged, child, referrer]) {
      assert.ok(await registry.meta.getManifest('r', img.digest));
      assert.ok(await registry.blobs.size(sha256(img.layers[0]!)));
    }
    // Grace period: fresh blobs are never candidates.
    const s = await registry.uploads.start('r');
    await registry.uploads.complete(
      'r',
      s.uuid,
      sha256('fresh'),
      Readable.from([Buffer.from('fresh')]),
    );
    const graced = await new GarbageCollector(registry, { untagged: false, grace: 3600 }).run({
      dryRun: false,
    });
    assert.deepEqual(graced.blobsDeleted, []);
    // Abandoned upload sessions are purged after uploadMaxAge.
    const open = await registry.uploads.start('r');
    const purge = await new GarbageCollector(registry, {
      untagged: false,
      grace: 3600,
      uploadMaxAge: 0,
    }).run({ dryRun: false });
    assert.equal(purge.uploadsPurged, 1);
    assert.equal(await registry.meta.getSession(open.uuid), undefined);
  } finally {
    await registry.close();
    rmSync(root, { recursive: true, force: true });
  }
});
