// tsbuild with hostile inputs it reads from (the threats builder-behaviour.test.ts does not
// cover): an image used by COPY --from or RUN --mount from= is unpacked within the same limits
// as a base image (TSDOCK_MAX_IMAGE_SIZE...), refused in one line that says how to raise them,
// leaving nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../shared/store/content-store.js';
import { MediaType } from '../../shared/media-types.js';
import { buildTar } from '../helpers/hostile-tar.js';
import { imageOf, sha256 } from '../helpers/registry-server.js';
import {
  fullRef,
  leftoverTemps,
  makeBuildRoot,
  tsbuild,
  unpack,
  writeContext,
  type BuildRoot,
} from '../helpers/builder-run.js';

const MiB = 1024 * 1024;
let br: BuildRoot;
let work: string;

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-hostile-'));
});
after(async () => {
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Tags an image of plain tar layers in the build root's store. */
async function storeImage(ref: string, layers: Buffer[]): Promise<void> {
  const store = await ContentStore.open(br.layout);
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
    }),
  );
  const img = imageOf(config, layers, MediaType.OciLayer);
  for (const blob of [config, ...layers, img.manifest]) await store.writeBlob(blob);
  await store.tag(ref, {
    mediaType: MediaType.OciManifest,
    digest: img.digest,
    size: img.manifest.length,
  } as Parameters<ContentStore['tag']>[1]);
}

test('COPY --from / RUN --mount from= an image: the per-image unpack limit applies', async () => {
  // two layers of 6 MiB: each within any layer limit, 12 MiB together
  const layer = (name: string) => buildTar([{ name, content: Buffer.alloc(6 * MiB, name) }]);
  await storeImage('big:1', [await layer('a'), await layer('b')]);
  const limits = { TSDOCK_MAX_IMAGE_SIZE: '10m' };
  const cases = [
    ['copy', 'FROM scratch\nCOPY --from=big:1 /a /a\n'],
    ['mount', 'FROM busybox\nRUN --mount=from=big:1,target=/m wc -c /m/b > /n\n'],
  ];
  for (const [name, dockerfile] of cases) {
    const dir = await writeContext(work, `limit-${name}`, { Dockerfile: dockerfile! });
    const res = tsbuild(br, ['--network', 'none', '-t', `limit-${name}:1`, dir], limits);
    assert.equal(res.status, 1, `${name}: ${res.stderr}`);
    const line = res.stderr.trim().split('\n').at(-1)!;
    assert.match(
      line,
      /^tsbuild: Dockerfile:2: .*more than 10 MiB \(limit TSDOCK_MAX_IMAGE_SIZE\).*TSDOCK_MAX_IMAGE_SIZE=1g/,
    );
    assert.deepEqual(await leftoverTemps(br), [], `${name}: nothing of the image left`);
    // raised, the same build works
    const ok = tsbuild(br, ['--network', 'none', '-t', `limit-${name}:1`, dir], {
      TSDOCK_MAX_IMAGE_SIZE: '1g',
    });
    assert.equal(ok.status, 0, ok.stderr);
  }
  const u = await unpack(br, fullRef('limit-mount:1'));
  try {
    assert.equal(readFileSync(join(u.rootfs, 'n'), 'utf8'), `${6 * MiB} /m/b\n`);
  } finally {
    await u.close();
  }
});
