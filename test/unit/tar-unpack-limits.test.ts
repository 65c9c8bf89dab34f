// Unpacking limits and sparse files: runs of zeros land as holes (du far below the size, same
// bytes read back), a layer past TSDOCK_MAX_LAYER_SIZE / TSDOCK_MAX_LAYER_ENTRIES or an image
// past TSDOCK_MAX_IMAGE_SIZE is refused with one line naming the variable, and the layer cache
// keeps nothing of a refused image (nor what an unpacking process killed mid-way left).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { writeLayerFromDir } from '../../shared/tar/layer-writer.js';
import { extractLayer } from '../../shared/tar/extract.js';
import { UnpackLimitError, parseAmount } from '../../shared/tar/unpack-limits.js';
import { ensureLayers } from '../../runner/rootfs.js';
import { errorLine } from '../../shared/errors.js';

const MiB = 1024 * 1024;

/** A gzip layer of a directory, in memory. */
async function layerOf(dir: string): Promise<{ blob: Buffer; diffId: string }> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const res = await writeLayerFromDir(dir, out, { xattrs: false });
  return { blob: Buffer.concat(chunks), diffId: res.diffId };
}

/** A directory with one 64 MiB file: 1 MiB of data, zeros, and 5 bytes at the very end. */
async function zeroTree(parent: string, name = 'src', size = 64 * MiB) {
  const dir = join(parent, name);
  await mkdir(dir);
  const file = join(dir, 'big');
  await writeFile(file, Buffer.alloc(MiB, 'x'));
  await truncate(file, size);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from('tail!'), 0, 5, size - 5);
  closeSync(fd);
  return dir;
}

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('runs of zeros are unpacked as holes and read back the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-sparse-'));
  try {
    const { blob } = await layerOf(await zeroTree(dir));
    assert.ok(blob.length < 2 * MiB, 'the zeros compress');
    await extractLayer(Readable.from([blob]), join(dir, 'out'));
    const st = statSync(join(dir, 'out/big'));
    assert.equal(st.size, 64 * MiB);
    assert.ok(st.blocks * 512 < 4 * MiB, `du ${st.blocks * 512} bytes for a 64 MiB file`);
    const fd = openSync(join(dir, 'out/big'), 'r');
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, MiB - 8);
    assert.equal(buf.toString('latin1'), `xxxxxxxx${'\0'.repeat(8)}`);
    readSync(fd, buf, 0, 5, 64 * MiB - 5);
    assert.equal(buf.subarray(0, 5).toString(), 'tail!');
    closeSync(fd);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a layer past TSDOCK_MAX_LAYER_SIZE or TSDOCK_MAX_LAYER_ENTRIES is refused in one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-limit-'));
  try {
    const { blob } = await layerOf(await zeroTree(dir));
    const err = await withEnv({ TSDOCK_MAX_LAYER_SIZE: '16m' }, () =>
      extractLayer(Readable.from([blob]), join(dir, 'out')).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof UnpackLimitError, String(err));
    const line = errorLine(err);
    assert.ok(!line.includes('\n'));
    assert.match(line, /more than 16 MiB .*TSDOCK_MAX_LAYER_SIZE.*TSDOCK_MAX_LAYER_SIZE=1g/);

    const many = join(dir, 'many');
    await mkdir(many);
    for (let i = 0; i < 30; i++) await writeFile(join(many, `f${i}`), String(i));
    const small = await layerOf(many);
    await assert.rejects(
      withEnv({ TSDOCK_MAX_LAYER_ENTRIES: '10' }, () =>
        extractLayer(Readable.from([small.blob]), join(dir, 'out2')),
      ),
      /more than 10 entries \(limit TSDOCK_MAX_LAYER_ENTRIES\)/,
    );
    // 0 turns a limit off
    await withEnv({ TSDOCK_MAX_LAYER_ENTRIES: '0' }, () =>
      extractLayer(Readable.from([small.blob]), join(dir, 'out3')),
    );
    assert.equal((await readdir(join(dir, 'out3'))).length, 30);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an image past TSDOCK_MAX_IMAGE_SIZE is refused and the layer cache keeps none of it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-imglimit-'));
  try {
    const a = await layerOf(await zeroTree(dir, 'a', 10 * MiB));
    const b = await layerOf(await zeroTree(dir, 'b', 11 * MiB));
    const layersDir = join(dir, 'state/layers');
    const sources = [a, b].map((l) => ({
      diffId: l.diffId,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      open: async () => Readable.from([l.blob]),
    }));
    const env = {
      TSDOCK_ROOT: join(dir, 'state'),
      TSDOCK_MAX_IMAGE_SIZE: '15m',
      TSDOCK_MAX_LAYER_SIZE: '12m',
    };
    // what a kill -9 mid-extraction leaves: a partial tree of a process that is gone
    const dead = spawnSync('true').pid!;
    const partial = join(layersDir, `.tmp-${'ab'.repeat(32)}-p${dead}-0a1b2c3d`);
    await mkdir(join(partial, 'usr'), { recursive: true });
    await assert.rejects(
      withEnv(env, () => ensureLayers(layersDir, sources)),
      /TSDOCK_MAX_IMAGE_SIZE/,
    );
    assert.deepEqual(await readdir(layersDir), [], 'no layer, no partial extraction, old or new');
    // within the limits the same image unpacks
    const dirs = await withEnv({ ...env, TSDOCK_MAX_IMAGE_SIZE: '32m' }, () =>
      ensureLayers(layersDir, sources),
    );
    assert.equal(dirs.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('limit amounts: suffixes are 1024-based, garbage is a clear error', () => {
  assert.equal(parseAmount('64g', 'X'), 64 * 1024 ** 3);
  assert.equal(parseAmount('512M', 'X'), 512 * MiB);
  assert.equal(parseAmount('100000', 'X'), 100000);
  assert.throws(
    () => parseAmount('lots', 'TSDOCK_MAX_LAYER_SIZE'),
    /invalid TSDOCK_MAX_LAYER_SIZE/,
  );
});
