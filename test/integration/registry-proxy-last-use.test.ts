// The proxy cache's last uses survive a restart: image A is fetched, then image B, then A is
// pulled again (a hit); after tsregistry is stopped and started again on the same storage, the
// listing still shows A used after B, and eviction down to A's size removes B, not A (which the
// blob files' times alone would have chosen: A's were written first).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeImage,
  pushImage,
  sha256,
  spawnRegistry,
  startRegistry,
  type RegistryProcess,
  type TestRegistry,
} from '../helpers/registry-server.js';

let upstream: TestRegistry;
let root: string;
let proxy: RegistryProcess | undefined;

before(async () => {
  upstream = await startRegistry();
  root = mkdtempSync(join(tmpdir(), 'tsreg-lastuse-'));
});

after(async () => {
  if (proxy && proxy.child.exitCode === null) await proxy.stop();
  await upstream?.close();
  rmSync(root, { recursive: true, force: true });
});

const yaml = (): string => `proxy:\n  remoteurl: ${upstream.url}\n  ttl: 1h\n`;

async function pull(url: string, repo: string): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/v1`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(res.status, 200);
  const m = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const b = await fetch(`${url}/v2/${repo}/blobs/${d}`);
    assert.equal(b.status, 200);
    await b.arrayBuffer();
  }
}

interface Item {
  repo: string;
  digest: string;
  kind: string;
  size: number;
  lastUse: string;
}

test('last uses of cached items survive a restart, and LRU eviction follows them', async () => {
  const a = makeImage([100 * 1024]);
  const b = makeImage([50 * 1024]);
  await pushImage(upstream.url, 'library/a', 'v1', a);
  await pushImage(upstream.url, 'library/b', 'v1', b);
  proxy = await spawnRegistry(root, yaml(), ['--workers', '1']);
  await pull(proxy.url, 'library/a');
  await pull(proxy.url, 'library/b');
  await pull(proxy.url, 'library/a'); // hits: A is now the more recently used
  await proxy.stop();

  proxy = await spawnRegistry(root, yaml(), ['--workers', '1']);
  const { items } = (await (await fetch(`${proxy.url}/admin/proxy/cache`)).json()) as {
    items: Item[];
  };
  const use = (img: typeof a) =>
    Date.parse(items.find((i) => i.digest === sha256(img.layers[0]!))!.lastUse);
  assert.ok(use(a) > use(b), `A used after B: ${JSON.stringify(items)}`);

  const sizeA = a.config.length + a.layers[0]!.length;
  const res = await fetch(`${proxy.url}/admin/proxy/evict?maxsize=${sizeA}`, { method: 'POST' });
  assert.equal(res.status, 200, await res.clone().text());
  const report = (await res.json()) as { evicted: Array<{ digest: string }> };
  const evicted = report.evicted.map((e) => e.digest).sort();
  assert.deepEqual(evicted, [sha256(b.config), sha256(b.layers[0]!)].sort());
});
