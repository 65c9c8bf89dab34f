// Content-addressed blobs on the StorageDriver, shared across repositories. A blob becomes
// visible only by an atomic move of verified bytes to its digest's key, so no reader ever
// sees a blob under a wrong digest. Sizes are cached (blobs are immutable until GC).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { blobDataPath } from '../paths.js';
import { isPathNotFound, type StorageDriver } from '../storage/driver.js';
import { Lru } from '../lru.js';

export class BlobStore {
  private readonly sizes = new Lru<string, number>(50_000);
  constructor(readonly driver: StorageDriver) {}

  /** Size of a stored blob, or undefined; `fresh` asks the driver even when the size is cached
   * (another process sharing the storage may have deleted it). */
  async size(digest: string, opts: { fresh?: boolean } = {}): Promise<number | undefined> {
    const cached = opts.fresh ? undefined : this.sizes.get(digest);
    if (cached !== undefined) return cached;
    try {
      const info = await this.driver.stat(blobDataPath(digest));
      this.sizes.set(digest, info.size);
      return info.size;
    } catch (err) {
      if (isPathNotFound(err)) {
        this.sizes.delete(digest);
        return undefined;
      }
      throw err;
    }
  }

  /** Cached size without I/O (fast path). */
  cachedSize(digest: string): number | undefined {
    return this.sizes.get(digest);
  }

  async open(digest: string, start?: number, end?: number): Promise<Readable> {
    return await this.driver.reader(blobDataPath(digest), start, end);
  }

  /**
   * Writes bytes `start..end` (inclusive) of a blob to `dest` without ending it: the driver's
   * send() when it has one (reused buffers), else its reader piped in.
   */
  async send(digest: string, dest: Writable, start: number, end: number): Promise<void> {
    const path = blobDataPath(digest);
    if (this.driver.send) return await this.driver.send(path, dest, start, end);
    await pipeline(await this.driver.reader(path, start, end), dest, { end: false });
  }

  async get(digest: string): Promise<Buffer> {
    return await this.driver.getContent(blobDataPath(digest));
  }

  /** Stores small content (manifests) under its digest. */
  async put(digest: string, content: Buffer): Promise<void> {
    if ((await this.size(digest, { fresh: true })) === undefined)
      await this.driver.putContent(blobDataPath(digest), content);
    this.sizes.set(digest, content.length);
  }

  /** Moves verified upload bytes into place; when the blob exists already the upload is dropped. */
  async commitFrom(uploadPath: string, digest: string, size: number): Promise<void> {
    // Asked afresh: a size cached here says nothing of a GC in another process sharing the
    // storage, and trusting it dropped the upload's bytes while answering 201.
    if ((await this.size(digest, { fresh: true })) !== undefined) {
      await this.driver.delete(uploadPath).catch(() => {});
      return;
    }
    await this.driver.move(uploadPath, blobDataPath(digest));
    this.sizes.set(digest, size);
  }

  async delete(digest: string): Promise<void> {
    this.sizes.delete(digest);
    await this.driver.delete(blobDataPath(digest).replace(/\/data$/, ''));
  }
}
