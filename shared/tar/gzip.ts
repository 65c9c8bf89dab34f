// Block-parallel gzip (the pigz technique) producing ONE standard gzip member.
// The input is cut into fixed-size blocks; each is raw-deflated with the previous 32 KiB as its
// dictionary and ended with Z_SYNC_FLUSH (the last with Z_FINISH), so the concatenated outputs
// form a single valid deflate stream. Blocks compress concurrently on libuv's thread pool (zlib's
// async API already runs off the main thread, so no worker_threads are needed); the CRC-32 runs
// over each block in order on the main thread (zlib.crc32, hardware-assisted). The bytes produced
// depend only on the input, level and block size, never on timing or core count, so layer digests
// stay reproducible; with parallel: false the same bytes come out, one block at a time.
// Blocks that do not compress (probed at three places) are stored rather than searched.
import { Transform, type TransformCallback } from 'node:stream';
import { availableParallelism } from 'node:os';
import zlib from 'node:zlib';

export interface GzipOptions {
  /** zlib level 0-9 (default 6, as docker and BuildKit). */
  level?: number;
  /** Compress blocks concurrently (default true). The output is identical either way. */
  parallel?: boolean;
  /** Uncompressed bytes per block (default 1 MiB, at least 64 KiB). */
  blockSize?: number;
}

const WINDOW = 32 * 1024;
const DEFAULT_BLOCK = 1024 * 1024;
// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown), as Go's compress/gzip writes.
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** Bytes sampled at each of three places in a block to tell whether it compresses at all. */
const PROBE = 16 * 1024;

function deflateRawAsync(data: Buffer, opts: zlib.ZlibOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    zlib.deflateRaw(data, opts, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * Whether a block is incompressible (random, or already compressed: media, archives): its start,
 * middle and end, deflated quickly, shrink by under 2%. Such blocks are stored (level 0), which
 * costs a copy instead of a full search for matches that are not there; the decision depends on
 * the bytes alone, so output stays reproducible.
 */
export async function incompressible(block: Buffer): Promise<boolean> {
  if (block.length < 8 * PROBE) return false;
  const mid = (block.length >> 1) - (PROBE >> 1);
  for (const at of [0, mid, block.length - PROBE]) {
    const sample = block.subarray(at, at + PROBE);
    const out = await deflateRawAsync(sample, { level: 1 });
    if (out.length < sample.length * 0.98) return false;
  }
  return true;
}

async function deflateBlock(
  block: Buffer,
  level: number,
  dict: Buffer | undefined,
  last: boolean,
): Promise<Buffer> {
  if (level > 0 && (await incompressible(block))) level = 0;
  return new Promise<Buffer>((resolve, reject) => {
    const opts: zlib.ZlibOptions = {
      level,
      chunkSize: 256 * 1024,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (dict) opts.dictionary = dict;
    zlib.deflateRaw(block, opts, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

class BlockGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly maxInFlight: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private dict: Buffer | undefined;
  private crc = 0;
  private isize = 0;
  private readonly inFlight: Promise<Buffer>[] = [];

  constructor(opts: GzipOptions) {
    super();
    this.level = opts.level ?? 6;
    this.blockSize = Math.max(64 * 1024, opts.blockSize ?? DEFAULT_BLOCK);
    this.maxInFlight = opts.parallel === false ? 1 : Math.min(4, availableParallelism() + 1);
    this.push(HEADER);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // Keep at least one byte back: the final block must be the one ended with Z_FINISH.
    while (this.buffered > this.blockSize) this.dispatch(this.takeBytes(this.blockSize), false);
    this.drainBlocks(this.maxInFlight - 1).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.dispatch(this.takeBytes(this.buffered), true);
    this.drainBlocks(0).then(() => {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.isize >>> 0, 4);
      cb(null, trailer);
    }, cb);
  }

  private takeBytes(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const block = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return block;
  }

  private dispatch(block: Buffer, last: boolean): void {
    this.crc = zlib.crc32(block, this.crc);
    this.isize = (this.isize + block.length) % 2 ** 32;
    const job = deflateBlock(block, this.level, this.dict, last);
    job.catch(() => {}); // observed in drain(); avoid an unhandled rejection meanwhile
    this.inFlight.push(job);
    this.dict = block.length >= WINDOW ? block.subarray(block.length - WINDOW) : undefined;
  }

  /** Emits finished blocks in order until at most `keep` are still running. */
  private async drainBlocks(keep: number): Promise<void> {
    while (this.inFlight.length > keep) this.push(await this.inFlight.shift()!);
  }
}

/** A gzip Transform; large inputs are compressed on all cores, output is one gzip member. */
export function createGzip(opts: GzipOptions = {}): Transform {
  return new BlockGzip(opts);
}
