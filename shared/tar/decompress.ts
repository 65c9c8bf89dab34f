// Layer blob decoding for extraction: sniffs gzip / zstd / plain tar from the first bytes and
// yields the uncompressed stream, feeding every uncompressed byte to `hash` (the diffId).
import type { Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { InvalidInputError } from '../errors.js';

/** The uncompressed bytes of a layer blob (gzip or plain), hashed as they pass. */
export async function* decompress(source: Readable, hash: Hash): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 4) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, r.value]);
  }
  const rest = Readable.from(
    (async function* () {
      if (head.length) yield head;
      if (ended) return;
      while (true) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
    { objectMode: false },
  );
  let plain: AsyncIterable<Buffer> = rest;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = zlib.createGunzip({ chunkSize: 64 * 1024 });
    pipeline(rest, gunzip).catch((err: Error) => gunzip.destroy(err));
    plain = gunzip;
  } else if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
    throw new InvalidInputError(
      'zstd-compressed layers are not supported',
      'use gzip or uncompressed layers',
    );
  }
  try {
    for await (const chunk of plain) {
      hash.update(chunk);
      yield chunk;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      throw new InvalidInputError(
        `invalid layer archive: corrupt gzip data (${(err as Error).message})`,
        'the blob is damaged',
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}
