// tsbuild with hostile inputs it reads from (the threats builder-behaviour.test.ts does not
// cover): symlinks in a build context resolve inside it exactly as docker's BuildKit resolves
// them (an absolute link as if the context were `/`, parents of globs too); an image used by
// COPY --from or RUN --mount from= is unpacked within the same limits as a base image
// (TSDOCK_MAX_IMAGE_SIZE...), refused in one line that says how to raise them, leaving nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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
import { startBuildKit } from '../helpers/buildkit.js';
import { peerUnavailable } from '../helpers/peers.js';

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

/** Files and links under dir (not directories): `path=content` or `path->target`. */
function listing(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel))
    .sort()
    .flatMap((name) => {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) return listing(dir, r);
      if (st.isSymbolicLink()) return [`${r}->${readlinkSync(join(dir, r))}`];
      return [`${r}=${readFileSync(join(dir, r), 'utf8').trim()}`];
    });
}

test('symlinks in the context resolve inside it as docker BuildKit resolves them', async (t) => {
  const bk = await startBuildKit();
  if ('reason' in bk) return peerUnavailable(t, bk.reason);
  try {
    const base = await mkdtemp(join(work, 'links-'));
    const ctx = join(base, 'ctx');
    await mkdir(join(ctx, 'real'), { recursive: true });
    await mkdir(join(ctx, 'etc'));
    await mkdir(join(base, 'outside'));
    await writeFile(join(base, 'outside/s.txt'), 'SECRET\n');
    await writeFile(join(ctx, 'real/s.txt'), 'in-real\n');
    await writeFile(join(ctx, 'etc/passwd'), 'context-passwd\n');
    await symlink('/etc', join(ctx, 'host-etc')); // <ctx>/etc
    await symlink('../outside', join(ctx, 'rel-out')); // <ctx>/outside: missing
    await symlink('/real', join(ctx, 'abs-in')); // <ctx>/real
    await symlink('../../../../../../../etc/passwd', join(ctx, 'up-passwd')); // <ctx>/etc/passwd
    const cases = [
      'COPY host-etc/passwd /x',
      'COPY host-etc/pass* /x/',
      'COPY up-passwd /x',
      'COPY rel-out/s.txt /x',
      'COPY rel-out/*.txt /x/',
      'COPY abs-in/s.txt /x',
      'COPY abs-in/*.txt /x/',
      'COPY abs-in /x/',
      'COPY r*/s.txt /x/', // real/ matches; rel-out is a link: not descended
      // (not `*/s.txt`: BuildKit's context sender fails on up-passwd/s.txt, ENOTDIR)
      'COPY . /x/',
    ];
    for (const [i, copy] of cases.entries()) {
      await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\n${copy}\n`);
      let theirs: string[] | string;
      try {
        theirs = listing(bk.exportFs([], ctx, base)).filter((p) => !p.startsWith('x/Dockerfile'));
      } catch {
        theirs = 'fails';
      }
      const res = tsbuild(br, ['-t', `links:${i}`, ctx]);
      let ours: string[] | string = 'fails';
      if (res.status === 0) {
        const u = await unpack(br, fullRef(`links:${i}`));
        ours = listing(u.rootfs).filter((p) => !p.startsWith('x/Dockerfile'));
        await u.close();
      }
      assert.deepEqual(ours, theirs, `${copy}: ${res.stderr}`);
      assert.ok(!JSON.stringify(ours).includes('SECRET'));
    }
  } finally {
    await bk.close();
  }
});
