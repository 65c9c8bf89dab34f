// Block-parallel gzip: one valid member that gzip(1) and zlib accept, identical bytes with and
// without parallelism, and the edge cases of block boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { createGzip, incompressible, type GzipOptions } from '../../shared/tar/gzip.js';

async function gz(data: Buffer, opts: GzipOptions = {}, chunk = 10_000): Promise<Buffer> {
  const out: Buffer[] = [];
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
    { objectMode: false },
  );
  await pipeline(
    src,
    createGzip(opts),
    new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }),
  );
  return Buffer.concat(out);
}

/** Compressible but not trivial: repeated text with random words mixed in. */
function sample(size: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < size) {
    const b = Buffer.from(`line ${n} ${randomBytes(6).toString('hex')} lorem ipsum dolor\n`);
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

const BS = 64 * 1024;

test('multi-block output is one gzip member that zlib and gzip(1) accept', async () => {
  const data = sample(BS * 7 + 12345);
  const out = await gz(data, { blockSize: BS });
  assert.deepEqual(out.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]));
  assert.ok(gunzipSync(out).equals(data));
  // One member: the raw deflate stream ends exactly before the 8-byte trailer.
  assert.ok(inflateRawSync(out.subarray(10, out.length - 8)).equals(data));
  const dir = await mkdtemp(join(tmpdir(), 'tsdock-gz-'));
  try {
    await writeFile(join(dir, 'x.gz'), out);
    execFileSync('gzip', ['-t', join(dir, 'x.gz')]);
    assert.ok(execFileSync('gzip', ['-dc', join(dir, 'x.gz')]).equals(data));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bytes do not depend on parallelism or on how input is chunked', async () => {
  const data = sample(BS * 5 + 1);
  const a = await gz(data, { blockSize: BS }, 10_000);
  const b = await gz(data, { blockSize: BS, parallel: false }, 777);
  const c = await gz(data, { blockSize: BS }, BS * 3);
  assert.ok(a.equals(b));
  assert.ok(a.equals(c));
  assert.ok(!a.equals(await gz(data, { blockSize: BS * 2 })), 'block size is part of the format');
});

test('edge sizes: empty, one byte, exact multiples of the block', async () => {
  for (const size of [0, 1, BS - 1, BS, BS + 1, BS * 3]) {
    const data = sample(size);
    const out = await gz(data, { blockSize: BS });
    assert.ok(gunzipSync(out).equals(data), `size ${size}`);
    assert.equal(out.readUInt32LE(out.length - 4), size, `ISIZE for ${size}`);
  }
});

test('incompressible data and level 1 / 9 round-trip', async () => {
  const data = randomBytes(BS * 3 + 5);
  for (const level of [1, 9]) {
    assert.ok(gunzipSync(await gz(data, { blockSize: BS, level })).equals(data));
  }
});

test('incompressible blocks are stored, compressible ones beside them still compress', async () => {
  const text = Buffer.from('layer text that repeats. '.repeat(Math.ceil((1 << 20) / 25))).subarray(
    0,
    1 << 20,
  );
  const noise = randomBytes(1 << 20);
  const data = Buffer.concat([noise, text, noise]);
  const out = await gz(data, { blockSize: 1 << 20 });
  assert.ok(gunzipSync(out).equals(data));
  // two stored 1 MiB blocks (5 bytes of framing per 64 KiB) plus a text block of a few KiB
  assert.ok(
    out.length > 2 * noise.length && out.length < 2 * noise.length + 40_000,
    `${out.length}`,
  );
  // the choice depends on the bytes alone: same output serially and in other chunkings
  assert.ok(out.equals(await gz(data, { blockSize: 1 << 20, parallel: false }, 65_536)));
  // stored, not searched: the probe tells noise from text, and small blocks are not probed
  assert.equal(await incompressible(noise), true);
  assert.equal(await incompressible(text), false);
  assert.equal(await incompressible(Buffer.concat([noise.subarray(0, 600_000), text])), false);
  assert.equal(await incompressible(noise.subarray(0, 64 * 1024)), false);
});
