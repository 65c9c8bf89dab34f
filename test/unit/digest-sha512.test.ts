// sha512 digests verified while the bytes stream: the DigestingStream, the client's resumable
// download (verified against the digest's own algorithm) and the content store's streamed write.
// The right bytes pass; wrong bytes (same length) fail, and nothing is stored under the digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadBlob } from '../../shared/client/blob-download.js';
import type { HttpResponse } from '../../shared/client/http.js';
import { assertDigest, DigestingStream, digestOf, parseDigest } from '../../shared/digest.js';
import { DigestMismatchError } from '../../shared/errors.js';
import { ContentStore } from '../../shared/store/content-store.js';

const data = randomBytes(3 * 1024 * 1024 + 17);
const SHA512 = `sha512:${createHash('sha512').update(data).digest('hex')}`;
const wrong = Buffer.from(data);
wrong[wrong.length >> 1]! ^= 0xff;

function chunked(buf: Buffer, size = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
    })(),
  );
}

async function streamDigest(buf: Buffer): Promise<string> {
  const d = new DigestingStream('sha512');
  await pipeline(chunked(buf), d, async (src) => {
    for await (const _ of src) void _;
  });
  assert.equal(d.size, buf.length);
  return d.digest();
}

test('a sha512 digest parses and digestOf computes it', () => {
  assert.deepEqual(parseDigest(SHA512), { algorithm: 'sha512', hex: SHA512.slice(7) });
  assert.equal(digestOf(data, 'sha512'), SHA512);
});

test('DigestingStream(sha512): right bytes verify, wrong bytes do not', async () => {
  assertDigest(SHA512, await streamDigest(data));
  const bad = await streamDigest(wrong);
  assert.notEqual(bad, SHA512);
  assert.throws(() => assertDigest(SHA512, bad), DigestMismatchError);
});

function response(body: Buffer): HttpResponse {
  return {
    status: 200,
    headers: { 'content-length': String(body.length) },
    url: 'http://x/',
    body: chunked(body) as unknown as HttpResponse['body'],
  };
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('downloadBlob verifies against a sha512 digest while streaming', async () => {
  const ok = await downloadBlob({
    digest: SHA512,
    start: 0,
    verify: true,
    open: async () => response(data),
  });
  assert.ok((await readAll(ok)).equals(data));
  const bad = await downloadBlob({
    digest: SHA512,
    start: 0,
    verify: true,
    open: async () => response(wrong),
  });
  await assert.rejects(readAll(bad), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError, String(err));
    assert.equal(err.expected, SHA512);
    assert.match(err.actual, /^sha512:[0-9a-f]{128}$/);
    return true;
  });
});

test('the content store verifies a streamed sha512 blob; a mismatch stores nothing', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsdock-sha512-'));
  try {
    const store = await ContentStore.open(root);
    await assert.rejects(
      store.writeBlob(chunked(wrong), { digest: SHA512, size: wrong.length }),
      DigestMismatchError,
    );
    assert.equal(existsSync(store.paths.blob(SHA512)), false, 'nothing under the digest');
    const written = await store.writeBlob(chunked(data), { digest: SHA512, size: data.length });
    assert.equal(written.digest, SHA512);
    assert.ok(existsSync(store.paths.blob(SHA512)));
    assert.equal(store.paths.blob(SHA512), join(root, 'blobs', 'sha512', SHA512.slice(7)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
