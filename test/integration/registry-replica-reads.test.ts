// What one tsregistry replica acknowledged, another serves at once, with no window in which it
// answers from a cache (services/manifests.ts, link-cache.ts: with a shared store reads ask it). Two replicas (2 workers each) on one PostgreSQL database and one storage directory;
// replica B reaches PostgreSQL through a TCP relay that delays everything the server sends by
// 100 ms, so B hears A's change notices late, as a busy or distant replica does. 50 rounds: A
// moves the tag, B is asked at once and must name the new digest; then A deletes the tag, a
// manifest by digest and a blob link, and B must answer 404 for each at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import { makeImage, pushRetrying, sha256, type TestImage } from '../helpers/registry-server.js';
import { startReplica } from '../helpers/ha-cluster.js';
import { join } from 'node:path';

const { server, tempDir, track } = postgresRegistryFixture('stop');

/** A TCP relay to 127.0.0.1:`target` that delays what the target sends by `delayMs`. */
async function delayingRelay(target: number, delayMs: number) {
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    // Timers of one duration fire in the order they were set: bytes keep their order.
    upstream.on('data', (d: Buffer) => setTimeout(() => client.write(d), delayMs));
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs));
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

test('tags moved, tags, manifests and blobs deleted through one replica: another serves that at once', async () => {
  const root = tempDir('tsreg-tagvis-');
  const dsn = await server().createDatabase('tags');
  const relay = await delayingRelay(server().port, 100);
  try {
    const slowDsn = dsn.replace(`:${server().port}/`, `:${relay.port}/`);
    // One blob directory; B starts slowly (each of its round trips to PostgreSQL takes 100 ms).
    const replica = async (name: string, d: string) =>
      track(
        await startReplica(name, {
          root: join(root, name),
          blobRoot: join(root, 'blobs'),
          dsn: d,
          workers: 2,
        }),
      );
    const a = await replica('a', dsn);
    const b = await replica('b', slowDsn);
    const images = [makeImage([1000]), makeImage([2000])];
    for (const [i, img] of images.entries()) await pushRetrying(a.url, 'vis/app', `img${i}`, img);
    const served = async (url: string) => {
      const res = await fetch(`${url}/v2/vis/app/manifests/moving`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      const body = Buffer.from(await res.arrayBuffer());
      return res.status === 200 ? sha256(body) : String(res.status);
    };
    for (let round = 0; round < 50; round++) {
      const img = images[round % 2]!;
      const put = await fetch(`${a.url}/v2/vis/app/manifests/moving`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
        body: img.manifest,
      });
      assert.equal(put.status, 201, await put.text());
      // Asked twice: B's two workers take turns (or not: the kernel spreads connections).
      for (let ask = 0; ask < 2; ask++)
        assert.equal(await served(b.url), img.digest, `round ${round}: B serves the moved tag`);
    }
    const del = await fetch(`${a.url}/v2/vis/app/manifests/moving`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    for (let ask = 0; ask < 2; ask++) assert.equal(await served(b.url), '404', 'tag deleted on A');
    const status = async (path: string, method = 'GET') =>
      (await fetch(`${b.url}/v2/vis/app/${path}`, { method })).status;
    const [gone] = images as [TestImage];
    const layer = `blobs/${sha256(gone.layers[0]!)}`;
    for (let ask = 0; ask < 4; ask++) {
      assert.equal(await status(`manifests/${gone.digest}`), 200);
      assert.equal(await status(layer, 'HEAD'), 200);
    }
    // Each asked right after its delete (B hears of it 100 ms later).
    let res = await fetch(`${a.url}/v2/vis/app/${layer}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    assert.equal(await status(layer, 'HEAD'), 404, 'blob unlinked on A');
    assert.equal(await status(layer), 404, 'blob unlinked on A');
    res = await fetch(`${a.url}/v2/vis/app/manifests/${gone.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    assert.equal(await status(`manifests/${gone.digest}`), 404, 'manifest deleted on A');
    assert.equal(await status('manifests/img0'), 404, 'its tag went with it');
    await Promise.all([a.stop(), b.stop()]);
  } finally {
    await relay.close();
  }
});
