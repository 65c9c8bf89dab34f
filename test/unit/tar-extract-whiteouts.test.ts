// Whiteouts applied when flattening layers onto one directory (OCI image-spec semantics:
// whiteouts hide lower layers only, never entries of their own layer), gzip auto-detection,
// diffId, and atomic extraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { extractLayer, extractLayerAtomic } from '../../shared/tar/extract.js';
import { buildTar, streamOf } from '../helpers/hostile-tar.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-wh-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const lower = () =>
  buildTar([
    { name: 'etc', type: 'directory' },
    { name: 'etc/a', content: 'a' },
    { name: 'etc/b', content: 'b' },
    { name: 'var', type: 'directory' },
    { name: 'var/cache', type: 'directory' },
    { name: 'var/cache/x', content: 'x' },
    { name: 'var/keep', content: 'k' },
  ]);

test('apply: .wh.name deletes, opaque empties, same-layer entries survive', () =>
  withDir(async (root) => {
    await extractLayer(streamOf(await lower()), root);
    const upper = await buildTar(
      [
        { name: 'etc/.wh.a' },
        { name: 'var/cache/new', content: 'n' }, // before the opaque marker, same layer
        { name: 'var/cache/.wh..wh..opq' },
        { name: 'etc/c', content: 'c' },
        { name: 'etc/.wh.c' }, // hides nothing: c comes from this layer
        { name: '.wh.missing' }, // nothing to hide
        { name: 'gone/.wh.x' }, // parent does not exist
      ],
      { gzip: true },
    );
    const res = await extractLayer(streamOf(upper), root, { whiteouts: 'apply' });
    assert.equal(res.entries, 7);
    assert.deepEqual((await readdir(join(root, 'etc'))).sort(), ['b', 'c']);
    assert.deepEqual(await readdir(join(root, 'var/cache')), ['new']);
    assert.equal(await readFile(join(root, 'var/keep'), 'utf8'), 'k');
    assert.equal(existsSync(join(root, 'gone')), false);
  }));

test('diffId is the sha256 of the uncompressed tar, gzip or not', () =>
  withDir(async (root) => {
    const tar = await lower();
    const want = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const plain = await extractLayer(streamOf(tar), join(root, 'p'));
    const gz = await extractLayer(streamOf(await buildTar([], {})), join(root, 'empty'));
    assert.equal(plain.diffId, want);
    assert.equal(gz.entries, 0);
    const { gzipSync } = await import('node:zlib');
    const zipped = await extractLayer(streamOf(gzipSync(tar)), join(root, 'g'));
    assert.equal(zipped.diffId, want);
    await assert.rejects(
      extractLayer(streamOf(gzipSync(tar).subarray(0, 100)), join(root, 'bad')),
      /invalid layer archive/,
    );
  }));

test('atomic extraction: all or nothing, concurrent extractions of one layer agree', () =>
  withDir(async (root) => {
    const final = join(root, 'layer');
    await assert.rejects(
      extractLayerAtomic(streamOf(await buildTar([{ name: '../x' }])), final),
      /escapes the root/,
    );
    assert.deepEqual(await readdir(root), [], 'nothing left behind on failure');
    const tar = await lower();
    const [a, b] = await Promise.all([
      extractLayerAtomic(streamOf(tar), final),
      extractLayerAtomic(streamOf(tar), final),
    ]);
    assert.equal(a.diffId, b.diffId);
    assert.deepEqual(await readdir(root), ['layer']);
    assert.equal(await readFile(join(final, 'etc/a'), 'utf8'), 'a');
  }));

test('a directory entry after its children keeps them and gets its metadata', () =>
  withDir(async (root) => {
    await extractLayer(
      streamOf(
        await buildTar([
          { name: 'a/b/file', content: 'f' },
          { name: 'a/b', type: 'directory', mode: 0o750, mtime: 1_000_000 },
          { name: 'a', type: 'directory', mode: 0o711 },
        ]),
      ),
      root,
    );
    assert.equal(await readFile(join(root, 'a/b/file'), 'utf8'), 'f');
    const st = await stat(join(root, 'a/b'));
    assert.equal(st.mode & 0o7777, 0o750);
    assert.equal(st.mtimeMs, 1_000_000_000);
    assert.equal((await stat(join(root, 'a'))).mode & 0o7777, 0o711);
  }));
