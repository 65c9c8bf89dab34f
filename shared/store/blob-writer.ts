// Ingest of blobs: bytes stream into a temp file under <root>/ingest (same filesystem as blobs/),
// are hashed on the way (one pass), fsynced, verified against the expected digest and size, and
// only then renamed to blobs/<algo>/<hex>. A crash leaves at most a temp file, which gc removes.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseDigest, type Algorithm, type Digest } from '../digest.js';
import { FileSink } from '../write-all.js';
import { DigestMismatchError, InvalidInputError } from '../errors.js';
import type { LayoutPaths } from './layout-paths.js';

export interface ExpectedBlob {
  digest?: Digest | string;
  size?: number;
}
export interface WrittenBlob {
  digest: Digest;
  size: number;
}

/** A writer that callers pipe into, then commit (verify + publish) or abort. */
export interface BlobWriter {
  stream: Writable;
  /** Ends the stream if needed, verifies, and makes the blob visible under its digest. */
  commit(expected?: ExpectedBlob): Promise<WrittenBlob>;
  /** Discards what was written. */
  abort(): Promise<void>;
}

/**
 * Writes chunks to a new file while hashing them (one pass); fsyncs before 'finish'. Chunks are
 * gathered into ~1 MiB writes (FileSink), so bytes are only in the file once 'finish' has fired.
 */
class HashingFileWritable extends FileSink {
  readonly hash: Hash;
  size = 0;

  constructor(
    readonly path: string,
    readonly algorithm: Algorithm,
  ) {
    const hash = createHash(algorithm);
    // ingest/ exists (ContentStore.open makes it); recreate it if someone removed it since.
    const open = (): Promise<FileHandle> =>
      fs.open(path, 'wx', 0o644).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await fs.mkdir(dirname(path), { recursive: true });
        return fs.open(path, 'wx', 0o644);
      });
    super(open, {
      sync: true,
      onChunk: (chunk) => {
        hash.update(chunk);
        this.size += chunk.length;
      },
    });
    this.hash = hash;
  }
}

/** A fresh temp path under ingest/. */
export function ingestPath(paths: LayoutPaths): string {
  return join(paths.ingestDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
}

export function createBlobWriter(paths: LayoutPaths, algorithm: Algorithm = 'sha256'): BlobWriter {
  const temp = ingestPath(paths);
  const stream = new HashingFileWritable(temp, algorithm);
  let settled = false;
  const abort = async (): Promise<void> => {
    settled = true;
    if (!stream.destroyed) stream.destroy();
    await finished(stream).catch(() => undefined);
    await fs.rm(temp, { force: true });
  };
  const commit = async (expected: ExpectedBlob = {}): Promise<WrittenBlob> => {
    if (settled) throw new InvalidInputError('blob writer already committed or aborted');
    settled = true;
    try {
      if (!stream.writableEnded) stream.end();
      await finished(stream);
      const written = {
        digest: `${algorithm}:${stream.hash.digest('hex')}` as Digest,
        size: stream.size,
      };
      verify(expected, written);
      await publish(paths, temp, written.digest);
      return written;
    } catch (err) {
      await abort();
      throw err;
    }
  };
  return { stream, commit, abort };
}

/** Throws unless what was written matches what was announced. */
export function verify(expected: ExpectedBlob, actual: WrittenBlob): void {
  if (expected.size !== undefined && expected.size !== actual.size) {
    throw new InvalidInputError(
      `size mismatch: expected ${expected.size} bytes, got ${actual.size}`,
      'the content is truncated or the descriptor is wrong; nothing was stored',
    );
  }
  if (expected.digest !== undefined && expected.digest !== actual.digest) {
    throw new DigestMismatchError(expected.digest, actual.digest);
  }
}

/**
 * Moves a verified, fsynced temp file to its digest path. An existing blob is kept (and its
 * mtime refreshed so a concurrent gc's grace period protects it); the temp file is removed.
 */
export async function publish(paths: LayoutPaths, temp: string, digest: Digest): Promise<void> {
  const target = paths.blob(digest);
  if (await touchIfExists(target)) {
    await fs.rm(temp, { force: true });
    return;
  }
  const dir = dirname(target);
  await fs.mkdir(dir, { recursive: true });
  await fs.rename(temp, target);
  await syncDir(dir);
}

/**
 * Ingests a blob that `fill` writes into a fresh temp file's descriptor (from offset 0) and
 * verifies against `expected.digest` itself (resolving with the size written; it rejects
 * otherwise): fsynced, its size checked, then published. A failure removes the temp file.
 */
export async function writeFromFd(
  paths: LayoutPaths,
  expected: { digest: Digest; size?: number },
  fill: (fd: number) => Promise<number>,
): Promise<WrittenBlob> {
  const temp = ingestPath(paths);
  await fs.mkdir(paths.ingestDir, { recursive: true });
  try {
    const handle = await fs.open(temp, 'wx', 0o644);
    let size: number;
    try {
      size = await fill(handle.fd);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const written = { digest: expected.digest, size };
    verify(expected, written);
    await publish(paths, temp, expected.digest);
    return written;
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Writes an in-memory blob: verified before anything touches the disk. */
export async function writeBuffer(
  paths: LayoutPaths,
  data: Buffer,
  expected: ExpectedBlob = {},
): Promise<WrittenBlob> {
  const algorithm = expected.digest ? parseDigest(expected.digest).algorithm : 'sha256';
  const digest = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
  const written = { digest, size: data.length };
  verify(expected, written);
  if (await touchIfExists(paths.blob(digest))) return written;
  const temp = ingestPath(paths);
  await fs.mkdir(paths.ingestDir, { recursive: true });
  const handle = await fs.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await publish(paths, temp, digest);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return written;
}

async function touchIfExists(path: string): Promise<Stats | undefined> {
  try {
    const now = new Date();
    await fs.utimes(path, now, now);
    return await fs.stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** fsyncs a directory so a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
