// GC across three tsregistry processes on one PostgreSQL database and one blob directory, each
// with its own in-process caches and GC guard, so only what the store holds (gc-holds.ts) can
// keep a collection in one from taking what another relies on. Each round: blobs uploaded
// through P1 and left unreferenced (grace 0 makes them candidates at once), then checked with a
// HEAD and mounted into a second repository through P1, while P2 puts the manifests that
// reference them (in both repositories) and P3 collects at the same time (started before the
// HEADs and mounts every other round, a moment after them in the others). A manifest PUT is
// either acknowledged, and then keeps every blob it references (checked through each process
// after a last collection), or refused with MANIFEST_BLOB_UNKNOWN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import { startReplica, type Replica } from '../helpers/ha-cluster.js';
import { expectIntact, makeImage, sha256, type TestImage } from '../helpers/registry-server.js';

const { server, tempDir, track } = postgresRegistryFixture('stop');
const OCI = 'application/vnd.oci.image.manifest.v1+json';

/** tsregistry processes (1 worker each) on one database and one blob directory under `root`. */
async function startProcesses(root: string, dsn: string, names: string[]): Promise<Replica[]> {
  const procs: Replica[] = [];
  for (const name of names)
    procs.push(
      track(
        await startReplica(name, {
          root: join(root, name),
          blobRoot: join(root, 'blobs'),
          dsn,
          workers: 1,
        }),
      ) as Replica,
    );
  return procs;
}

test('HEAD or mount on one process, manifest PUT on another, GC on a third: no acknowledged manifest loses a blob', async (t) => {
  const root = tempDir('tsreg-gc3-');
  const dsn = await server().createDatabase('gc_three');
  const procs = await startProcesses(root, dsn, ['p1', 'p2', 'p3']);
  const [p1, p2, p3] = procs as [Replica, Replica, Replica];
  const gc = async () => {
    const res = await fetch(`${p3.url}/admin/gc?dryRun=false&grace=0`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
  };
  const put = async (repo: string, img: TestImage) => {
    const res = await fetch(`${p2.url}/v2/${repo}/manifests/${img.digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI },
      body: img.manifest,
    });
    const text = await res.text();
    if (res.status === 201) return true;
    assert.match(text, /MANIFEST_BLOB_UNKNOWN/, `${res.status} ${text}`);
    return false;
  };
  const acked: Array<{ repo: string; img: TestImage }> = [];
  let refused = 0;
  const base = randomBytes(4000);
  for (let round = 0; round < 30; round++) {
    const img = makeImage([base, 700 + round]);
    for (const blob of [img.config, ...img.layers]) {
      const res = await fetch(`${p1.url}/v2/gc3/src/blobs/uploads/?digest=${sha256(blob)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob,
      });
      assert.equal(res.status, 201, await res.text());
    }
    // Odd rounds: the collection starts first, the HEADs and mounts happen while it runs. Even
    // rounds: the HEADs and mounts go first and the collection starts a moment later, racing the
    // manifest PUTs (with grace 0 either may win; a PUT that loses is refused, never half-kept).
    let collecting: Promise<void> = round % 2 ? gc() : Promise.resolve();
    const viaHead = (async () => {
      for (const blob of [img.config, ...img.layers]) {
        const res = await fetch(`${p1.url}/v2/gc3/src/blobs/${sha256(blob)}`, { method: 'HEAD' });
        if (res.status !== 200) return false;
      }
      return await put('gc3/src', img);
    })();
    const viaMount = (async () => {
      for (const blob of [img.config, ...img.layers]) {
        const res = await fetch(
          `${p1.url}/v2/gc3/dst/blobs/uploads/?mount=${sha256(blob)}&from=gc3/src`,
          { method: 'POST' },
        );
        await res.arrayBuffer();
        if (res.status !== 201) return false;
      }
      return await put('gc3/dst', img);
    })();
    if (round % 2 === 0) collecting = new Promise((r) => setTimeout(r, round % 5)).then(() => gc());
    const [headOk, mountOk] = await Promise.all([viaHead, viaMount, collecting]);
    if (headOk) acked.push({ repo: 'gc3/src', img });
    else refused++;
    if (mountOk) acked.push({ repo: 'gc3/dst', img });
    else refused++;
  }
  await gc();
  t.diagnostic(`${acked.length} manifest PUTs acknowledged, ${refused} refused or not attempted`);
  assert.ok(acked.length > 0);
  for (const { repo, img } of acked)
    for (const p of procs) await expectIntact(p.url, repo, img.digest, img);
  await Promise.all(procs.map((p) => p.stop()));
});

test('a blob GC deleted through one process and uploaded again through another is stored', async () => {
  const root = tempDir('tsreg-gcre-');
  const dsn = await server().createDatabase('gc_reupload');
  const [p1, p2] = (await startProcesses(root, dsn, ['p1', 'p2'])) as [Replica, Replica];
  const blob = randomBytes(5000);
  const url = (p: Replica) => `${p.url}/v2/gcre/app/blobs/${sha256(blob)}`;
  const upload = async () => {
    const res = await fetch(`${p1.url}/v2/gcre/app/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    assert.equal(res.status, 201, await res.text());
  };
  await upload();
  // p1 has now seen the blob (its size is cached there); p2 collects it (unreferenced, grace 0).
  assert.equal((await fetch(url(p1), { method: 'HEAD' })).status, 200);
  const gc = await fetch(`${p2.url}/admin/gc?dryRun=false&grace=0`, { method: 'POST' });
  assert.equal(gc.status, 200, await gc.text());
  assert.equal((await fetch(url(p2), { method: 'HEAD' })).status, 404, 'collected');
  await upload();
  for (const p of [p1, p2]) {
    const res = await fetch(url(p));
    assert.equal(res.status, 200, `${p.name}: the upload acknowledged again is stored`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(blob));
  }
  await Promise.all([p1.stop(), p2.stop()]);
});
