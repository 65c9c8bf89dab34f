// pushImage/pullImage against the reference registry, proven with skopeo: what we push skopeo
// inspects and copies; what skopeo pushes from an OCI layout we pull with identical digests.
// Also: multi-arch index + --platform, cross-repo mount on a second push, skipping known blobs;
// a large layer read in bulk straight into the store's file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { RegistryClient } from '../../shared/client/registry-client.js';
import { fileDownloadStats } from '../../shared/client/file-download.js';
import { makeImage, writeOciLayout } from '../helpers/registry-server.js';
import { INDEX_DIGEST_ANNOTATION, pull, push } from '../../shared/client/transfer.js';
import { digestOf } from '../../shared/digest.js';
import type { ImageManifest } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { ensureBusyboxLayout, importBusybox } from '../helpers/busybox-image.js';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';

let reg: ReferenceRegistry;
let tmp: string;
before(async () => {
  reg = await startReferenceRegistry();
  tmp = mkdtempSync(join(tmpdir(), 'tsdock-client-transfer-'));
});
after(async () => {
  await reg?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function skopeo(args: string[]): string {
  const r = spawnSync('skopeo', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function manifestOf(store: ContentStore, digest: string): Promise<ImageManifest> {
  return JSON.parse((await store.readBlob(digest)).toString('utf8')) as ImageManifest;
}

test('push a store image; skopeo inspects and copies it', async () => {
  const store = await ContentStore.open(join(tmp, 'store-push'));
  await importBusybox(store, `${reg.host}/lib/busybox:v1`);
  const desc = await store.resolve(`${reg.host}/lib/busybox:v1`);
  const result = await push(store, `${reg.host}/lib/busybox:v1`);
  assert.equal(result.digest, desc.digest);
  assert.ok(result.uploaded >= 2);
  const inspect = JSON.parse(
    skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/lib/busybox:v1`]),
  ) as {
    Digest: string;
    Layers: string[];
  };
  assert.equal(inspect.Digest, desc.digest);
  const m = await manifestOf(store, desc.digest);
  assert.deepEqual(
    inspect.Layers,
    m.layers.map((l) => l.digest),
  );
  const out = join(tmp, 'skopeo-out');
  skopeo([
    'copy',
    '--src-tls-verify=false',
    `docker://${reg.host}/lib/busybox:v1`,
    `oci:${out}:v1`,
  ]);
  const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  assert.equal(idx.manifests[0]!.digest, desc.digest);
  // A second push skips everything; a push under another name mounts the blobs.
  const again = await push(store, `${reg.host}/lib/busybox:v1`);
  assert.equal(again.uploaded, 0);
  assert.equal(again.existing, m.layers.length + 1);
  const other = await push(store, `${reg.host}/lib/busybox:v1`, {
    target: `${reg.host}/other/bb:v2`,
  });
  assert.equal(other.uploaded, 0);
  assert.equal(other.mounted, m.layers.length + 1);
  const inspect2 = JSON.parse(
    skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/other/bb:v2`]),
  ) as { Digest: string };
  assert.equal(inspect2.Digest, desc.digest);
});

test('pull what skopeo pushed: identical manifest, config and layer digests', async () => {
  const layout = await ensureBusyboxLayout();
  skopeo([
    'copy',
    '--dest-tls-verify=false',
    `oci:${layout}:latest`,
    `docker://${reg.host}/skopeo/busybox:latest`,
  ]);
  const raw = skopeo([
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${reg.host}/skopeo/busybox:latest`,
  ]);
  const inspect = JSON.parse(raw) as ImageManifest;
  const { Digest: digest } = JSON.parse(
    skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/skopeo/busybox:latest`]),
  ) as { Digest: string };
  assert.equal(digest, digestOf(Buffer.from(raw)));
  const store = await ContentStore.open(join(tmp, 'store-pull'));
  const result = await pull(store, `${reg.host}/skopeo/busybox:latest`);
  assert.equal(result.digest, digest);
  assert.equal(result.descriptor.digest, digest);
  assert.equal(result.name, `${reg.host}/skopeo/busybox:latest`);
  const m = await manifestOf(store, digest);
  assert.equal(m.config.digest, inspect.config.digest);
  assert.deepEqual(
    m.layers.map((l) => l.digest),
    inspect.layers.map((l) => l.digest),
  );
  for (const d of [m.config, ...m.layers]) assert.equal(await store.statBlob(d.digest), d.size);
  assert.equal((await store.resolve(`${reg.host}/skopeo/busybox`)).digest, digest);
  // Pulling again downloads nothing.
  const again = await pull(store, `${reg.host}/skopeo/busybox:latest`);
  assert.equal(again.downloaded, 0);
  // Docker schema2 (skopeo converts): stored byte-exact under its own media type.
  skopeo([
    'copy',
    '--format',
    'v2s2',
    '--dest-tls-verify=false',
    `oci:${layout}:latest`,
    `docker://${reg.host}/skopeo/v2s2:latest`,
  ]);
  const raw2 = skopeo([
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${reg.host}/skopeo/v2s2:latest`,
  ]);
  const v2 = await pull(store, `${reg.host}/skopeo/v2s2:latest`);
  assert.equal(v2.descriptor.mediaType, MediaType.DockerManifest);
  assert.equal(v2.digest, digestOf(Buffer.from(raw2)));
  assert.equal((await store.readBlob(v2.digest)).toString(), raw2);
});

test('a 20 MiB layer goes straight into the store file (bulk read), byte-exact with what the registry holds', async () => {
  const layout = join(tmp, 'big-layout');
  const image = makeImage([randomBytes(20 * 1024 * 1024)]);
  writeOciLayout(layout, 'v1', image);
  skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/big/x:v1`]);
  const store = await ContentStore.open(join(tmp, 'store-big'));
  const before = fileDownloadStats.bulk;
  const result = await pull(store, `${reg.host}/big/x:v1`);
  assert.equal(fileDownloadStats.bulk - before, 1, 'the layer, not the small config');
  const m = await manifestOf(store, result.descriptor.digest);
  const layer = m.layers[0]!;
  const file = join(store.root, 'blobs', 'sha256', layer.digest.slice(7));
  assert.equal(digestOf(readFileSync(file)), layer.digest);
  assert.equal(await store.statBlob(layer.digest), layer.size);
});

test('a multi-arch index: the index and the chosen platform are stored', async () => {
  const c = new RegistryClient({ registry: reg.host });
  const repo = 'multi/app';
  const manifests: { platform: { os: string; architecture: string }; bytes: Buffer }[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const config = Buffer.from(
      JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    await c.uploadBlob(repo, () => Readable.from([config]), {
      digest: digestOf(config),
      size: config.length,
    });
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
        layers: [],
      }),
    );
    await c.putManifest(repo, digestOf(bytes), bytes, MediaType.OciManifest);
    manifests.push({ platform: { os: 'linux', architecture }, bytes });
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: manifests.map((m) => ({
        mediaType: MediaType.OciManifest,
        digest: digestOf(m.bytes),
        size: m.bytes.length,
        platform: m.platform,
      })),
    }),
  );
  await c.putManifest(repo, 'v1', index, MediaType.OciIndex);
  const store = await ContentStore.open(join(tmp, 'store-multi'));
  const result = await pull(store, `${reg.host}/${repo}:v1`, { platform: 'linux/arm64' });
  assert.equal(result.digest, digestOf(index));
  assert.equal(result.descriptor.digest, digestOf(manifests[1]!.bytes));
  assert.equal(result.descriptor.annotations?.[INDEX_DIGEST_ANNOTATION], digestOf(index));
  assert.ok(await store.hasBlob(digestOf(index)));
  assert.equal(await store.hasBlob(digestOf(manifests[0]!.bytes)), false);
  await assert.rejects(
    pull(store, `${reg.host}/${repo}:v1`, { platform: 'linux/s390x' }),
    /no image for platform linux\/s390x/,
  );
  // Pushing the index (tagged locally) to another registry: the missing amd64 manifest is named.
  await store.tag(`${reg.host}/${repo}:index`, {
    mediaType: MediaType.OciIndex,
    digest: digestOf(index),
    size: index.length,
  });
  const reg2 = await startReferenceRegistry();
  try {
    await assert.rejects(
      push(store, `${reg.host}/${repo}:index`, { target: `${reg2.host}/${repo}:v1` }),
      new RegExp(
        `manifest ${digestOf(manifests[0]!.bytes)} of the index is neither stored locally`,
      ),
    );
    // With both platforms pulled, the index goes up byte-exact, children first.
    await pull(store, `${reg.host}/${repo}:v1`, { platform: 'linux/amd64' });
    const pushed = await push(store, `${reg.host}/${repo}:index`, {
      target: `${reg2.host}/${repo}:v1`,
    });
    assert.equal(pushed.digest, digestOf(index));
    const raw = skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${reg2.host}/${repo}:v1`,
    ]);
    assert.equal(digestOf(Buffer.from(raw)), digestOf(index));
    for (const m of manifests) {
      const one = skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${reg2.host}/${repo}@${digestOf(m.bytes)}`,
      ]);
      assert.equal(one, m.bytes.toString());
    }
  } finally {
    await reg2.close();
  }
});
