// downloadBlob without a network: scripted responses that break mid-stream, servers that ignore
// Range (a 200 with the whole blob again), truncation, and digest verification.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { downloadBlob } from '../../shared/client/blob-download.js';
import type { HttpResponse } from '../../shared/client/http.js';
import { digestOf } from '../../shared/digest.js';
import { threadHashStats } from '../../shared/thread-hash.js';

/** A response whose body yields `data` and then, if `breakAfter` is set, fails like a cut socket. */
function response(
  status: number,
  data: Buffer,
  total: number,
  offset: number,
  breakAfter?: number,
): HttpResponse {
  const body = Readable.from(
    (async function* () {
      const upto = breakAfter === undefined ? data.length : Math.min(breakAfter, data.length);
      for (let i = 0; i < upto; i += 4096) yield data.subarray(i, Math.min(i + 4096, upto));
      if (breakAfter !== undefined)
        throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    })(),
  );
  const headers: Record<string, string> = { 'content-length': String(data.length) };
  if (status === 206) headers['content-range'] = `bytes ${offset}-${total - 1}/${total}`;
  return { status, headers, url: 'http://x/', body: body as unknown as HttpResponse['body'] };
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('resumes with Range after breaks, verifying the whole', async () => {
  const blob = randomBytes(100_000);
  const offsets: number[] = [];
  const out = await downloadBlob({
    digest: digestOf(blob),
    start: 0,
    verify: true,
    open: async (offset) => {
      offsets.push(offset);
      const rest = blob.subarray(offset);
      return offsets.length < 3
        ? response(offset ? 206 : 200, rest, blob.length, offset, 30_000)
        : response(206, rest, blob.length, offset);
    },
  });
  assert.deepEqual(await readAll(out), blob);
  assert.deepEqual(offsets, [0, 30_000, 60_000]);
});

test('a server that ignores Range: the bytes already had are skipped', async () => {
  const blob = randomBytes(50_000);
  let calls = 0;
  const out = await downloadBlob({
    digest: digestOf(blob),
    start: 0,
    verify: true,
    open: async () =>
      ++calls === 1
        ? response(200, blob, blob.length, 0, 20_000)
        : response(200, blob, blob.length, 0),
  });
  assert.deepEqual(await readAll(out), blob);
  assert.equal(calls, 2);
});

test('wrong content fails with a digest mismatch; endless breaks give up', async () => {
  const blob = randomBytes(10_000);
  const wrong = await downloadBlob({
    digest: digestOf(Buffer.from('other')),
    start: 0,
    verify: true,
    open: async () => response(200, blob, blob.length, 0),
  });
  await assert.rejects(readAll(wrong), /digest mismatch/);
  let calls = 0;
  const broken = await downloadBlob({
    digest: digestOf(blob),
    start: 0,
    verify: true,
    maxResumes: 2,
    open: async (offset) => {
      calls++;
      return response(offset ? 206 : 200, blob.subarray(offset), blob.length, offset, 0);
    },
  });
  await assert.rejects(readAll(broken), /aborted/);
  assert.equal(calls, 3);
});

test('a large blob is hashed on the worker thread: one flipped byte still fails, resumes still pass', async () => {
  const blob = randomBytes(20 * 1024 * 1024 + 12_345); // above THREAD_HASH_MIN, not whole batches
  const before = threadHashStats.started;
  const ok = await downloadBlob({
    digest: digestOf(blob),
    start: 0,
    verify: true,
    open: async (offset) =>
      offset === 0
        ? response(200, blob, blob.length, 0, 7_000_001)
        : response(206, blob.subarray(offset), blob.length, offset),
  });
  assert.ok((await readAll(ok)).equals(blob));
  const flipped = Buffer.from(blob);
  flipped[flipped.length - 1]! ^= 1;
  const wrong = await downloadBlob({
    digest: digestOf(blob),
    start: 0,
    verify: true,
    open: async () => response(200, flipped, flipped.length, 0),
  });
  await assert.rejects(readAll(wrong), /digest mismatch/);
  assert.equal(threadHashStats.started - before, 2, 'both went to the hashing thread');
});
