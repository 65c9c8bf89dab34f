// tsbuild execution read back from the built images: FROM --platform and COPY --from=<image>
// picking from a multi-arch index.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../shared/store/content-store.js';
import { MediaType } from '../../shared/media-types.js';
import { digestOf } from '../../shared/digest.js';
import { encodeHeader, padding, trailer } from '../../shared/tar/tar-format.js';
import { hostPlatform } from '../../builder/plan/build-args.js';
import {
  fullRef,
  inspectConfig,
  makeBuildRoot,
  tsbuild,
  unpack,
  type BuildRoot,
} from '../helpers/builder-run.js';

let br: BuildRoot;
let work: string;
const host = hostPlatform().architecture;
const other = host === 'arm64' ? 'amd64' : 'arm64';

before(async () => {
  br = await makeBuildRoot();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await br?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

async function readFrom(ref: string, path: string): Promise<string> {
  const u = await unpack(br, fullRef(ref));
  try {
    return readFileSync(join(u.rootfs, path), 'utf8');
  } finally {
    await u.close();
  }
}

/** Tags `ref` as an index of two one-layer images (host arch and another) whose /plat names it. */
async function multiArchIndex(ref: string): Promise<void> {
  const store = await ContentStore.open(br.layout);
  const manifests = [];
  for (const architecture of [host, other]) {
    const body = Buffer.from(`${architecture}\n`);
    const layer = Buffer.concat([
      encodeHeader({
        path: 'plat',
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
      }),
      body,
      padding(body.length),
      trailer(),
    ]);
    const l = await store.writeBlob(layer);
    const config = await store.putJson(
      {
        architecture,
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [digestOf(layer)] },
        history: [{ created_by: `plat ${architecture}` }],
      },
      MediaType.OciConfig,
    );
    const m = await store.putJson(
      {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config,
        layers: [{ mediaType: MediaType.OciLayer, digest: l.digest, size: l.size }],
      },
      MediaType.OciManifest,
    );
    manifests.push({ ...m, platform: { os: 'linux', architecture } });
  }
  const index = await store.putJson(
    { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests },
    MediaType.OciIndex,
  );
  await store.tag(ref, index);
}

test('FROM --platform picks that platform out of an index; --platform sets the default', async () => {
  await multiArchIndex('multi:1');
  const dir = await context('from-platform', {
    Dockerfile: [
      `FROM --platform=linux/${other} multi:1 AS foreign`,
      'FROM multi:1 AS native',
      'FROM scratch',
      'COPY --from=foreign /plat /foreign',
      'COPY --from=native /plat /native',
      '',
    ].join('\n'),
  });
  const res = tsbuild(br, ['-t', 'plat:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(await readFrom('plat:1', 'foreign'), `${other}\n`);
  assert.equal(await readFrom('plat:1', 'native'), `${host}\n`);

  const t = tsbuild(br, ['-t', 'plat:foreign', '--target', 'foreign', dir]);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(inspectConfig(br, fullRef('plat:foreign')).architecture, other);
  assert.equal(await readFrom('plat:foreign', 'plat'), `${other}\n`);

  const cli = await context('cli-platform', { Dockerfile: 'FROM multi:1\n' });
  const c = tsbuild(br, ['-t', 'plat:cli', '--platform', `linux/${other}`, cli]);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(inspectConfig(br, fullRef('plat:cli')).architecture, other);
  assert.equal(await readFrom('plat:cli', 'plat'), `${other}\n`);
});

test("COPY --from=<image> uses the build's platform, not the stage's FROM --platform (as BuildKit)", async () => {
  await multiArchIndex('multi:2');
  const dir = await context('copy-from-platform', {
    Dockerfile: [
      `FROM --platform=linux/${other} multi:2`,
      'COPY --from=multi:2 /plat /copied',
      '',
    ].join('\n'),
  });
  const res = tsbuild(br, ['-t', 'cfp:1', dir]);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(await readFrom('cfp:1', 'plat'), `${other}\n`, 'the base follows FROM --platform');
  assert.equal(await readFrom('cfp:1', 'copied'), `${host}\n`, 'COPY --from the build platform');
  const cli = await context('copy-from-cli', {
    Dockerfile: 'FROM scratch\nCOPY --from=multi:2 /plat /copied\n',
  });
  const c = tsbuild(br, ['-t', 'cfp:2', '--platform', `linux/${other}`, cli]);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(await readFrom('cfp:2', 'copied'), `${other}\n`);
});
