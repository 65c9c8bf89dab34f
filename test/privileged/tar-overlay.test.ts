// Root-only tar tests: overlay-mode whiteouts (char 0/0, trusted.overlay.opaque) checked by a
// real overlay mount; an overlay upper dir turned into an OCI layer and applied back; device
// nodes and security.capability; umoci (Go) unpacking an image with our block-parallel layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { extractLayer } from '../../shared/tar/extract.js';
import { writeLayerFromDir, writeLayerFromOverlayUpper } from '../../shared/tar/layer-writer.js';
import { FsOps } from '../../shared/tar/fsops.js';
import { readTar } from '../../shared/tar/tar-reader.js';
import type { TarHeader } from '../../shared/tar/tar-format.js';
import { buildTar, streamOf } from '../helpers/hostile-tar.js';

// A version-2 security.capability value granting cap_net_raw (as `setcap cap_net_raw+ep`).
const CAP = Buffer.from('0000000202000000000000000000000000000000', 'hex');

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-tarp-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mountOverlay(lower: string[], merged: string, upper?: string, work?: string): void {
  const opts = [`lowerdir=${lower.join(':')}`];
  if (upper && work)
    opts.push(
      `upperdir=${upper}`,
      `workdir=${work}`,
      'redirect_dir=off',
      'metacopy=off',
      'index=off',
    );
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts.join(','), merged]);
}

async function xattrsOf(root: string, rel: string): Promise<Map<string, Buffer>> {
  const ops = new FsOps(root);
  try {
    return await ops.listXattrs(rel);
  } finally {
    await ops.close();
  }
}

async function layerHeaders(file: string): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  for await (const e of readTar(createReadStream(file).pipe(createGunzip()))) out.push(e.header);
  return out;
}

test('overlay-mode whiteouts are what a real overlay mount understands', () =>
  withTmp(async (dir) => {
    const l1 = join(dir, 'l1');
    const l2 = join(dir, 'l2');
    const merged = join(dir, 'merged');
    await mkdir(merged);
    await extractLayer(
      streamOf(
        await buildTar([
          { name: 'gone', content: 'old' },
          { name: 'dir', type: 'directory' },
          { name: 'dir/old', content: 'old' },
          { name: 'keep', content: 'keep' },
        ]),
      ),
      l1,
      { whiteouts: 'overlay' },
    );
    const layer2 = await buildTar(
      [
        { name: '.wh.gone' },
        { name: 'dir', type: 'directory', mode: 0o750 },
        { name: 'dir/.wh..wh..opq' },
        { name: 'dir/new', content: 'new' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        {
          name: 'ping',
          content: 'elf',
          mode: 0o4755,
          pax: { 'SCHILY.xattr.trusted.evil': 'x', 'SCHILY.xattr.user.note': 'hi' },
        },
      ],
      { gzip: true },
    );
    await extractLayer(streamOf(layer2), l2, { whiteouts: 'overlay' });
    const wh = await lstat(join(l2, 'gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is char 0/0');
    assert.equal((await xattrsOf(l2, 'dir')).get('trusted.overlay.opaque')?.toString(), 'y');
    assert.equal((await lstat(join(l2, 'dir'))).mode & 0o7777, 0o750);
    const dev = await lstat(join(l2, 'dev/null'));
    assert.ok(dev.isCharacterDevice() && dev.rdev === 0x103);
    assert.equal((await lstat(join(l2, 'ping'))).mode & 0o7777, 0o4755);
    const px = await xattrsOf(l2, 'ping');
    assert.equal(px.get('user.note')?.toString(), 'hi');
    assert.equal(px.has('trusted.evil'), false, 'trusted.* never applied');

    mountOverlay([l2, l1], merged);
    try {
      assert.deepEqual((await readdir(merged)).sort(), ['dev', 'dir', 'keep', 'ping']);
      assert.deepEqual(await readdir(join(merged, 'dir')), ['new']);
    } finally {
      execFileSync('umount', [merged]);
    }
  }));

test('overlay upper -> OCI layer -> applied on the lower equals the merged view', () =>
  withTmp(async (dir) => {
    const [lower, upper, work, merged, flat] = ['lower', 'upper', 'work', 'merged', 'flat'].map(
      (n) => join(dir, n),
    );
    for (const d of [upper, work, merged]) await mkdir(d);
    const base = await buildTar([
      { name: 'etc', type: 'directory' },
      { name: 'etc/gone', content: 'x' },
      { name: 'etc/same', content: 'same', mode: 0o644 },
      { name: 'etc/edit', content: 'v1' },
      { name: 'opq', type: 'directory' },
      { name: 'opq/a', content: 'a' },
      { name: 'opq/b', content: 'b' },
    ]);
    await extractLayer(streamOf(base), lower);
    mountOverlay([lower], merged, upper, work);
    let view: Record<string, string>;
    try {
      await rm(join(merged, 'etc/gone'));
      await writeFile(join(merged, 'etc/edit'), 'v2');
      await chmod(join(merged, 'etc/same'), 0o644); // copy-up without a change
      await rm(join(merged, 'opq'), { recursive: true });
      await mkdir(join(merged, 'opq'));
      await writeFile(join(merged, 'opq/c'), 'c');
      await writeFile(join(merged, 'capfile'), 'bin');
      const ops = new FsOps(merged);
      await ops.setXattr('capfile', 'security.capability', CAP);
      await ops.close();
      view = await describe(merged);
    } finally {
      execFileSync('umount', [merged]);
    }
    assert.ok(existsSync(join(upper, 'etc/same')), 'the chmod copied the file up');
    const file = join(dir, 'diff.tgz');
    const res = await writeLayerFromOverlayUpper(upper, createWriteStream(file), {
      lowerDirs: [lower],
    });
    const headers = await layerHeaders(file);
    const names = headers.map((h) => h.path);
    assert.deepEqual(names, [
      'capfile',
      'etc',
      'etc/.wh.gone',
      'etc/edit',
      'opq',
      'opq/.wh..wh..opq',
      'opq/c',
    ]);
    assert.ok(
      headers
        .find((h) => h.path === 'capfile')!
        .xattrs!.get('security.capability')!
        .equals(CAP),
    );
    for (const h of headers) {
      for (const k of h.xattrs?.keys() ?? []) assert.ok(!k.includes('overlay'), `${h.path}: ${k}`);
    }
    await extractLayer(streamOf(base), flat);
    const applied = await extractLayer(createReadStream(file), flat, { whiteouts: 'apply' });
    assert.equal(applied.diffId, res.diffId);
    assert.deepEqual(await describe(flat), view);
    assert.ok((await xattrsOf(flat, 'capfile')).get('security.capability')!.equals(CAP));
  }));

test('umoci (Go) unpacks an image whose layer is our block-parallel gzip', () =>
  withTmp(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'data'), { recursive: true });
    const big = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `row ${i}\n`).join(''));
    await writeFile(join(src, 'data/big.txt'), big);
    await writeFile(join(src, 'data/run'), '#!/bin/sh\n', { mode: 0o755 });
    const layout = join(dir, 'layout');
    await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
    const tmpBlob = join(layout, 'layer.tmp');
    const layer = await writeLayerFromDir(src, createWriteStream(tmpBlob), { sourceDateEpoch: 0 });
    assert.ok(big.length > 1024 * 1024, 'more than one 1 MiB gzip block');
    await writeFile(join(layout, 'blobs/sha256', layer.digest.slice(7)), await readFile(tmpBlob));
    await rm(tmpBlob);
    const put = async (obj: unknown) => {
      const data = Buffer.from(JSON.stringify(obj));
      const hex = createHash('sha256').update(data).digest('hex');
      await writeFile(join(layout, 'blobs/sha256', hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const config = await put({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    });
    const manifest = await put({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    });
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
          },
        ],
      }),
    );
    const bundle = join(dir, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, bundle], { stdio: 'pipe' });
    assert.ok((await readFile(join(bundle, 'rootfs/data/big.txt'))).equals(big));
    assert.equal((await lstat(join(bundle, 'rootfs/data/run'))).mode & 0o777, 0o755);
  }));

async function describe(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(root, { recursive: true })).sort()) {
    const p = join(root, name);
    const st = await lstat(p);
    let extra = '';
    if (st.isSymbolicLink()) extra = await readlink(p);
    else if (st.isFile()) extra = (await readFile(p)).toString('hex');
    out[name] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${extra}`;
  }
  return out;
}
