// Content-addressed blobs on the StorageDriver, shared across repositories. A blob becomes
// visible only by an atomic move of verified bytes to its digest's key, so no reader ever
// sees a blob under a wrong digest. Sizes are cached (blobs are immutable until GC).
import type { Readable } from 'node:stream';
import { blobDataPath } from '../paths.js';
import { isPathNotFound, type StorageDriver } from '../storage/driver.js';
import { Lru } from '../lru.js';

export class BlobStore {
  private readonly sizes = new Lru<string, number>(50_000);
  constructor(readonly driver: StorageDriver) {}

  /** Size of a stored blob, or undefined. */
  async size(digest: string): Promise<number | undefined> {
    const cached = this.sizes.get(digest);
    if (cached !== undefined) return cached;
    try {
      const info = await this.driver.stat(blobDataPath(digest));
      this.sizes.set(digest, info.size);
      return info.size;
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
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

  async get(digest: string): Promise<Buffer> {
    return await this.driver.getContent(blobDataPath(digest));
  }

  /** Stores small content (manifests) under its digest. */
  async put(digest: string, content: Buffer): Promise<void> {
    if ((await this.size(digest)) === undefined)
      await this.driver.putContent(blobDataPath(digest), content);
    this.sizes.set(digest, content.length);
  }

  /** Moves verified upload bytes into place; when the blob exists already the upload is dropped. */
  async commitFrom(uploadPath: string, digest: string, size: number): Promise<void> {
    if ((await this.size(digest)) !== undefined) {
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
