// GC across three tsregistry processes on one PostgreSQL database and one blob directory, each
// with its own in-process caches and GC guard, so only what the store holds (gc-holds.ts) can
// keep a collection in one from taking what another relies on. Each round: blobs uploaded
// through P1 and left unreferenced (grace 0 makes them candidates at once), then checked with a
// HEAD and mounted into a second repository through P1, while P2 puts the manifests that
// reference them (in both repositories) and P3 collects at the same time. A manifest PUT is
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

test('HEAD or mount on one process, manifest PUT on another, GC on a third: no acknowledged manifest loses a blob', async (t) => {
  const root = tempDir('tsreg-gc3-');
  const dsn = await server().createDatabase('gc_three');
  const procs: Replica[] = [];
  for (const name of ['p1', 'p2', 'p3'])
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
    // The collection starts first; the HEADs and mounts happen while it runs.
    const collecting = gc();
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
