// The GC / manifest-write protocol (registry/gc-holds.ts) in the exact interleavings that lost
// data before: a manifest PUT that has checked its references but not yet recorded the manifest
// while a whole GC run (grace 0) happens; a PUT that meets a condemned digest; holds a crashed
// writer left behind. Each step is sequenced by promises, not by timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Registry } from '../../registry/services/registry.js';
import { GarbageCollector } from '../../registry/gc.js';
import { RegistryError } from '../../registry/errors.js';
import { makeImage, sha256, type TestImage } from '../helpers/registry-server.js';
import { waitFor } from '../helpers/wait.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

async function withRegistry(fn: (r: Registry) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-holds-'));
  const registry = await Registry.openFilesystem(root);
  try {
    await fn(registry);
  } finally {
    await registry.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function uploadBlobs(registry: Registry, repo: string, img: TestImage): Promise<void> {
  for (const b of [img.config, ...img.layers]) {
    const s = await registry.uploads.start(repo);
    await registry.uploads.complete(repo, s.uuid, sha256(b), Readable.from([b]));
  }
}

const gc = (registry: Registry) =>
  new GarbageCollector(registry, { untagged: true, grace: 0 }).run({ dryRun: false });

test(
  'a whole GC run between a PUT checking its references and recording them deletes none of them',
  { timeout: 10_000 },
  async () => {
    await withRegistry(async (registry) => {
      const img = makeImage([300]);
      await uploadBlobs(registry, 'r', img);
      // Pause the PUT right before it records the manifest (its references are checked by then).
      const putManifest = registry.meta.putManifest.bind(registry.meta);
      let paused!: () => void;
      const reached = new Promise<void>((r) => (paused = r));
      let resume!: () => void;
      const gate = new Promise<void>((r) => (resume = r));
      registry.meta.putManifest = async (...args) => {
        paused();
        await gate;
        return await putManifest(...args);
      };
      const put = registry.manifests.put('r', 'v1', img.manifest, OCI);
      await reached;
      const report = await gc(registry);
      assert.deepEqual(report.blobsDeleted, [], 'nothing the PUT holds goes');
      resume();
      await put;
      for (const b of [img.config, ...img.layers, img.manifest])
        assert.equal(await registry.blobs.size(sha256(b), { fresh: true }), b.length);
      assert.equal((await registry.manifests.get('r', 'v1')).digest, img.digest);
      // Once recorded, the manifest keeps them through later runs too.
      assert.deepEqual((await gc(registry)).blobsDeleted, []);
    });
  },
);

test('a PUT meeting a condemned reference waits, then proceeds or is refused', async () => {
  await withRegistry(async (registry) => {
    const kept = makeImage([301]);
    const swept = makeImage([302]);
    await uploadBlobs(registry, 'r', kept);
    await uploadBlobs(registry, 'r', swept);
    const layerOf = (img: TestImage) => sha256(img.layers[0]!);
    await registry.meta.condemn([layerOf(kept), layerOf(swept)]);
    let settled = 0;
    const keptPut = registry.manifests
      .put('r', 'kept', kept.manifest, OCI)
      .finally(() => settled++);
    const sweptPut = registry.manifests
      .put('r', 'swept', swept.manifest, OCI)
      .finally(() => settled++);
    sweptPut.catch(() => {});
    // Both PUTs have written their holds, so both are past the point where they wait.
    await waitFor(async () => {
      let holds = 0;
      for await (const _ of registry.meta.allHolds()) holds++;
      return holds >= 2;
    }, 'both PUTs to hold their references');
    assert.equal(settled, 0, 'no PUT goes on while a reference is condemned');
    // GC saw the holds and spares one; the other it had deleted before the holds (as if).
    await registry.blobs.delete(layerOf(swept));
    await registry.meta.pardon();
    await keptPut;
    await assert.rejects(
      sweptPut,
      (err: unknown) => err instanceof RegistryError && err.code === 'MANIFEST_BLOB_UNKNOWN',
    );
    assert.equal((await registry.manifests.get('r', 'kept')).digest, kept.digest);
  });
});

test('holds a crashed writer left are ignored after their lifetime and removed', async () => {
  await withRegistry(async (registry) => {
    const img = makeImage([303]);
    await uploadBlobs(registry, 'r', img);
    const layer = sha256(img.layers[0]!);
    await registry.meta.putHold({ id: 'live', digests: [layer], at: Date.now() });
    await registry.meta.putHold({ id: 'dead', digests: [sha256(img.config)], at: 0 });
    const report = await gc(registry);
    assert.deepEqual(report.blobsDeleted, [sha256(img.config)]);
    const left: string[] = [];
    // (uploads leave their own holds to expire: gc-holds.ts touchReferences)
    for await (const h of registry.meta.allHolds()) if (!h.id.startsWith('touch:')) left.push(h.id);
    assert.deepEqual(left, ['live']);
  });
});
