// The registry's domain object: storage, metadata and the services on top, wired once.
// Handlers get one of these and never touch drivers or keys directly.
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../errors.js';
import { GcGuard } from '../gc-guard.js';
import { LinkCache } from '../link-cache.js';
import { touchReferences } from '../gc-holds.js';
import type { RegistryConfig } from '../config.js';
import { openMetadataStore } from '../metadata/open.js';
import type { MetadataStore, StoreChange } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { FilesystemDriver } from '../storage/drivers/filesystem/filesystem-driver.js';
import type { S3StorageConfig } from '../storage/drivers/s3/s3-config.js';
import { InvalidInputError } from '../../shared/errors.js';
import { blobDataPath } from '../paths.js';
import { BlobStore } from './blob-store.js';
import { ListingService } from './listings.js';
import { ManifestService } from './manifests.js';
import { UploadService } from './uploads.js';

/** The S3 driver, once its bucket answers (else a one-line error, exit 1). */
async function openS3Driver(config: S3StorageConfig): Promise<StorageDriver> {
  const { S3Driver } = await import('../storage/drivers/s3/s3-driver.js');
  const driver = new S3Driver(config);
  try {
    await driver.check();
  } catch (err) {
    driver.client.destroy();
    throw new InvalidInputError((err as Error).message, 'check storage.s3', 1);
  }
  return driver;
}

export interface RegistryOptions {
  driver: StorageDriver;
  meta: MetadataStore;
  deleteEnabled?: boolean;
}

export class Registry {
  readonly guard = new GcGuard();
  readonly blobs: BlobStore;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  readonly driver: StorageDriver;
  readonly meta: MetadataStore;
  readonly deleteEnabled: boolean;
  /**
   * `${repo}@${digest}` known to be linked (immutable until a delete or GC); nothing is kept with
   * a store other processes write to (they may unlink at any moment: every lookup asks it).
   */
  private readonly links: LinkCache;
  /** Bumped when GC deletes a blob: a lookup that raced it does not fill the link cache. */
  private linksEpoch = 0;

  constructor(opts: RegistryOptions) {
    this.driver = opts.driver;
    this.meta = opts.meta;
    this.deleteEnabled = opts.deleteEnabled ?? true;
    this.links = new LinkCache(this.meta.watch ? 0 : undefined);
    this.blobs = new BlobStore(this.driver);
    this.uploads = new UploadService(this.driver, this.meta, this.blobs, this.guard);
    this.manifests = new ManifestService(this.meta, this.blobs);
    this.listings = new ListingService(this.meta);
  }

  /**
   * A registry on the filesystem driver under `root` (or on S3 when `s3` is given, after
   * checking the bucket), with the metadata store `metadata` asks for (default: LevelDB
   * under `root`).
   */
  static async openFilesystem(
    root: string,
    opts: {
      deleteEnabled?: boolean;
      metadata?: RegistryConfig['metadata'];
      s3?: RegistryConfig['storage']['s3'];
    } = {},
  ): Promise<Registry> {
    const { metadata, s3, ...rest } = opts;
    const driver = s3 ? await openS3Driver(s3) : new FilesystemDriver(root);
    const meta = await openMetadataStore(root, metadata);
    const registry = new Registry({ driver, meta, ...rest });
    try {
      await meta.watch?.((change) => registry.forgetChange(change));
    } catch (err) {
      await meta.close();
      throw err;
    }
    return registry;
  }

  /** Drops what another process's write made stale in this one's caches. */
  forgetChange(change: StoreChange): void {
    if (change.kind === 'manifest') return this.manifests.forget(change.repo, change.digest);
    this.linksEpoch++;
    if (change.kind === 'link') this.links.delete(change.repo, change.digest);
    else {
      this.links.clear();
      this.manifests.forgetAll();
    }
  }

  async close(): Promise<void> {
    await this.meta.close();
  }

  /** Size of a blob linked into the repository; BLOB_UNKNOWN otherwise. */
  async blobSize(repo: string, digest: string): Promise<number> {
    const epoch = this.linksEpoch;
    if (!this.links.has(repo, digest) && !(await this.meta.hasLink(repo, digest)))
      throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    const size = await this.blobs.size(digest);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    if (epoch === this.linksEpoch) this.links.add(repo, digest);
    this.guard.touch(digest);
    return size;
  }

  /** Cached linked blob size without I/O (fast path). */
  cachedBlobSize(repo: string, digest: string): number | undefined {
    return this.links.has(repo, digest) ? this.blobs.cachedSize(digest) : undefined;
  }

  async openBlob(digest: string, start?: number, end?: number): Promise<Readable> {
    return await this.blobs.open(digest, start, end);
  }

  /** Where clients may fetch a blob directly (S3 `redirect`: a presigned URL), else undefined. */
  async blobRedirect(digest: string): Promise<string | undefined> {
    return await this.driver.redirectURL?.(blobDataPath(digest));
  }

  /** Writes bytes `start..end` (inclusive) of a blob to `dest`, which is left open. */
  async sendBlob(digest: string, dest: Writable, start: number, end: number): Promise<void> {
    await this.blobs.send(digest, dest, start, end);
  }

  /** Cross-repository mount; false when the source does not hold the blob. */
  async mount(repo: string, from: string, digest: string): Promise<boolean> {
    // Held in the store first (every process's GC sees it), outside the guard's shared side,
    // which a collector waiting for its pardon could otherwise block.
    await touchReferences(this.meta, [digest]);
    return await this.guard.shared(async () => {
      // The size asked afresh: another process's GC may have deleted the bytes.
      if (
        !(await this.meta.hasLink(from, digest)) ||
        (await this.blobs.size(digest, { fresh: true })) === undefined
      )
        return false;
      this.guard.touch(digest);
      await this.meta.putLink(repo, digest);
      return true;
    });
  }

  /** Unlinks a blob from a repository (the bytes go at the next GC if nothing else uses them). */
  async deleteBlob(repo: string, digest: string): Promise<void> {
    this.links.delete(repo, digest);
    if (!(await this.meta.deleteLink(repo, digest)))
      throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
  }

  /**
   * Forgets cached links of a blob GC deleted (at once: the fast path serves by them). GC drops
   * the cached manifests that needed its blobs once per batch (manifests.forgetBlobs).
   */
  forgetBlob(digest: string): void {
    this.linksEpoch++;
    this.links.forgetDigest(digest);
  }
}
