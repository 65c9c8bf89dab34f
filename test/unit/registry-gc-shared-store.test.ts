// Two registries over one metadata store and one storage root, as two processes would share
// them: each has its own caches and its own in-process GC guard, so only what goes
// through the MetadataStore (gc-holds.ts) can keep one's GC from deleting what the other's
// manifest PUT references. One instance pushes images sharing an old layer and deletes older
// ones, the other runs GC (grace 0) at the same time; every acknowledged manifest must keep its
// blobs, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { LevelMetadataStore } from '../../registry/metadata/level-store.js';
import { Registry } from '../../registry/services/registry.js';
import { FilesystemDriver } from '../../registry/storage/drivers/filesystem/filesystem-driver.js';
import { GarbageCollector } from '../../registry/gc.js';
import { RegistryError } from '../../registry/errors.js';
import { makeImage, sha256, type TestImage } from '../helpers/registry-server.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const ROUNDS = 80;

test('GC in one instance never deletes what a manifest PUT in another references', async (t) => {
  const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsreg-2p-'));
  const meta = new LevelMetadataStore(join(root, 'meta'));
  await meta.open();
  const pusher = new Registry({ driver: new FilesystemDriver(root), meta });
  const collector = new Registry({ driver: new FilesystemDriver(root), meta });
  const gc = new GarbageCollector(collector, { untagged: false, grace: 0 });
  const upload = async (b: Buffer) => {
    const s = await pusher.uploads.start('two/app');
    await pusher.uploads.complete('two/app', s.uuid, sha256(b), Readable.from([b]));
  };
  const acknowledged: Array<{ tag: string; image: TestImage }> = [];
  const base = randomBytes(2000);
  try {
    let previous: TestImage | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const image = makeImage([base, 300 + round]);
      for (const b of [image.config, ...image.layers]) await upload(b);
      const tag = `r${round}`;
      const put = pusher.manifests.put('two/app', tag, image.manifest, OCI).then(
        () => true,
        (err: unknown) => {
          // GC may sweep the uploads before the PUT holds them: then the PUT must say so.
          assert.ok(
            err instanceof RegistryError && err.code === 'MANIFEST_BLOB_UNKNOWN',
            String(err),
          );
          return false;
        },
      );
      const doomed = round % 2 === 0 ? previous : undefined;
      const del = doomed && pusher.manifests.delete('two/app', doomed.digest);
      if (doomed) {
        acknowledged.splice(
          acknowledged.findIndex((a) => a.image === doomed),
          1,
        );
        previous = undefined;
      }
      await Promise.all([
        put.then((ok) => ok && acknowledged.push({ tag, image })),
        gc.run({ dryRun: false }),
        del,
      ]);
      if (acknowledged.at(-1)?.image === image) previous = image;
    }
    await gc.run({ dryRun: false });
    t.diagnostic(`${ROUNDS} rounds, ${acknowledged.length} acknowledged manifests kept`);
    const lost: string[] = [];
    for (const { tag, image } of acknowledged) {
      if ((await meta.getTag('two/app', tag)) !== image.digest) lost.push(`${tag}: tag`);
      for (const b of [image.manifest, image.config, ...image.layers]) {
        const got = await collector.blobs.get(sha256(b)).catch(() => undefined);
        if (!got || sha256(got) !== sha256(b)) lost.push(`${tag}: ${sha256(b)}`);
      }
    }
    assert.deepEqual(lost, [], `${lost.length} losses over ${acknowledged.length} kept pushes`);
    assert.ok(acknowledged.length > 0);
  } finally {
    await meta.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('GC in another instance never takes a blob a mount or an upload acknowledged during its run', async (t) => {
  const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsreg-3p-'));
  const meta = new LevelMetadataStore(join(root, 'meta'));
  await meta.open();
  const pusher = new Registry({ driver: new FilesystemDriver(root), meta });
  const collector = new Registry({ driver: new FilesystemDriver(root), meta });
  const gc = new GarbageCollector(collector, { untagged: false, grace: 0 });
  const upload = async (repo: string, b: Buffer) => {
    const s = await pusher.uploads.start(repo);
    await pusher.uploads.complete(repo, s.uuid, sha256(b), Readable.from([b]));
  };
  const lost: string[] = [];
  let acknowledged = 0;
  try {
    for (let round = 0; round < 60; round++) {
      // Two unreferenced blobs, candidates for the collector: once its run has begun, one is
      // mounted into another repository and the other uploaded again.
      const [mounted, reuploaded] = [randomBytes(1000), randomBytes(1000)];
      await upload('src/app', mounted);
      await upload('src/app', reuploaded);
      const run = gc.run({ dryRun: false });
      while (!collector.guard.running) await new Promise((r) => setImmediate(r));
      const [mountOk] = await Promise.all([
        pusher.mount('dst/app', 'src/app', sha256(mounted)),
        upload('dst/app', reuploaded),
        new Promise((r) => setTimeout(r, round % 3)).then(() => run),
      ]);
      const check = async (b: Buffer, what: string) => {
        acknowledged++;
        const linked = await meta.hasLink('dst/app', sha256(b));
        const got = await pusher.blobs.get(sha256(b)).catch(() => undefined);
        if (!linked || !got || sha256(got) !== sha256(b)) lost.push(`round ${round}: ${what}`);
      };
      if (mountOk) await check(mounted, 'mounted blob');
      await check(reuploaded, 'uploaded blob');
    }
    t.diagnostic(`${acknowledged} mounts and uploads acknowledged`);
    assert.deepEqual(lost, [], `${lost.length} acknowledged mounts or uploads lost their blob`);
  } finally {
    await meta.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('one collection at a time on a store: lockCollection queues the second taker', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-gclock-'));
  const meta = new LevelMetadataStore(join(root, 'meta'));
  await meta.open();
  try {
    const first = await meta.lockCollection();
    let second = false;
    const waiting = meta.lockCollection().then((release) => {
      second = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(second, false, 'the second waits');
    await first();
    await (
      await waiting
    )();
    assert.equal(second, true);
  } finally {
    await meta.close();
    rmSync(root, { recursive: true, force: true });
  }
});
