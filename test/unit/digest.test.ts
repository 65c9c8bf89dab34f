// Digest parsing and streaming hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { DigestingStream, digestOf, isDigest, parseDigest } from '../../shared/digest.js';
import { DigestMismatchError, InvalidInputError } from '../../shared/errors.js';
import { assertDigest } from '../../shared/digest.js';

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('digestOf matches the well-known empty sha256', () => {
  assert.equal(digestOf(''), EMPTY);
});

test('parseDigest accepts sha256 and sha512, rejects malformed', () => {
  assert.deepEqual(parseDigest(EMPTY), { algorithm: 'sha256', hex: EMPTY.slice(7) });
  assert.ok(isDigest(`sha512:${'a'.repeat(128)}`));
  for (const bad of [
    '',
    'sha256:',
    'sha256:abc',
    `sha256:${'A'.repeat(64)}`,
    `md5:${'a'.repeat(32)}`,
    `sha256:${'a'.repeat(65)}`,
    `sha256:../${'a'.repeat(61)}`,
  ]) {
    assert.throws(() => parseDigest(bad), InvalidInputError, bad);
  }
});

test('DigestingStream hashes in constant memory across chunks', async () => {
  const chunk = Buffer.alloc(1 << 20, 7);
  const ref = createHash('sha256');
  const d = new DigestingStream();
  let seen = 0;
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < 16; i++) {
          ref.update(chunk);
          yield chunk;
        }
      })(),
    ),
    d,
    async (src) => {
      for await (const c of src) seen += (c as Buffer).length;
    },
  );
  assert.equal(seen, 16 << 20);
  assert.equal(d.size, 16 << 20);
  assert.equal(d.digest(), `sha256:${ref.digest('hex')}`);
});

test('assertDigest throws DigestMismatchError', () => {
  assert.throws(() => assertDigest(EMPTY, digestOf('x')), DigestMismatchError);
});
