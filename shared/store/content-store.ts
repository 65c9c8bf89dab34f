// The local content store: an OCI image layout (see layout-paths.ts for the tree) that tsbuild,
// tspull, tsrun and the image commands share. Blobs are verified before they become visible and
// written atomically; tags live in index.json (full references in org.opencontainers.image.ref.name,
// so `skopeo copy oci:$ROOT:docker.io/library/busybox:latest ...` and umoci read it directly).
import { createReadStream, promises as fs, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestOf, parseDigest, type Algorithm, type Digest } from '../digest.js';
import { DigestMismatchError, NotFoundError } from '../errors.js';
import { serializeJson, type Descriptor } from '../manifest.js';
import { REF_NAME_ANNOTATION } from '../media-types.js';
import { storeRoot } from '../paths.js';
import { secureStateDirs } from '../state-dirs.js';
import {
  createBlobWriter,
  writeBuffer,
  writeFromFd,
  type BlobWriter,
  type ExpectedBlob,
  type WrittenBlob,
} from './blob-writer.js';
import { readIndex, updateIndex, type IndexDocument } from './index-file.js';
import { LayoutPaths, OCI_LAYOUT_VERSION } from './layout-paths.js';
import { normalizeTagRef, resolveInStore } from './resolve.js';
import { collectGarbage, type GcOptions, type GcResult } from './store-gc.js';

export type { BlobWriter, ExpectedBlob, WrittenBlob } from './blob-writer.js';
export type { GcOptions, GcResult } from './store-gc.js';

/** Blobs up to this size are digest-checked on every readBlob (manifests, configs). */
const VERIFY_ON_READ_LIMIT = 4 << 20;

export interface ImageEntry {
  /** The full normalised reference, e.g. docker.io/library/busybox:latest */
  name: string;
  descriptor: Descriptor;
}

export class ContentStore {
  readonly paths: LayoutPaths;

  private constructor(readonly root: string) {
    this.paths = new LayoutPaths(root);
  }

  /** Opens (creating if needed) the layout at `root`, by default $TSDOCK_ROOT/images (paths.ts). */
  static async open(root: string = storeRoot()): Promise<ContentStore> {
    const store = new ContentStore(root);
    if (root === storeRoot()) secureStateDirs();
    await fs.mkdir(store.paths.algorithmDir('sha256'), { recursive: true });
    await fs.mkdir(store.paths.ingestDir, { recursive: true });
    const layout = JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION });
    await fs.writeFile(store.paths.layoutFile, layout, { flag: 'wx' }).catch(ignoreExists);
    await fs
      .writeFile(store.paths.indexFile, '{"schemaVersion":2,"manifests":[]}\n', { flag: 'wx' })
      .catch(ignoreExists);
    return store;
  }

  // ---- blobs ----

  blobPath(digest: Digest | string): string {
    return this.paths.blob(digest);
  }

  async hasBlob(digest: Digest | string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /** The blob's size, or undefined when it is not stored. */
  async statBlob(digest: Digest | string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.blobPath(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Reads a whole blob; small ones (manifests, configs) are verified against their digest. */
  async readBlob(digest: Digest | string): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await fs.readFile(this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(digest);
      throw err;
    }
    if (data.length <= VERIFY_ON_READ_LIMIT) {
      const actual = digestOf(data, parseDigest(digest).algorithm);
      if (actual !== digest) throw new DigestMismatchError(digest, actual);
    }
    return data;
  }

  /** A stream of the blob from `start` (for resumed transfers); throws NotFoundError now. */
  openBlob(digest: Digest | string, opts: { start?: number } = {}): Readable {
    const path = this.blobPath(digest);
    try {
      statSync(path);
    } catch {
      throw blobNotFound(digest);
    }
    return createReadStream(path, { start: opts.start, highWaterMark: 1 << 20 });
  }

  /**
   * Stores content from a stream or buffer: hashed in one pass into a temp file, fsynced,
   * verified against `expected`, then renamed into place. Throws DigestMismatchError (and stores
   * nothing) when the content does not match.
   */
  async writeBlob(
    source: Readable | AsyncIterable<Uint8Array> | Buffer,
    expected: ExpectedBlob = {},
  ): Promise<WrittenBlob> {
    if (Buffer.isBuffer(source)) return writeBuffer(this.paths, source, expected);
    const algorithm: Algorithm = expected.digest
      ? parseDigest(expected.digest).algorithm
      : 'sha256';
    const writer = createBlobWriter(this.paths, algorithm);
    try {
      await pipeline(source, writer.stream);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return writer.commit(expected);
  }

  /** A writable to pipe content into; `commit` verifies and publishes, `abort` discards. */
  blobWriter(opts: { algorithm?: Algorithm } = {}): BlobWriter {
    return createBlobWriter(this.paths, opts.algorithm);
  }

  /** Stores a blob that `fill` writes into a descriptor and verifies itself (blob-writer.ts). */
  writeBlobFrom(
    expected: { digest: Digest; size?: number },
    fill: (fd: number) => Promise<number>,
  ): Promise<WrittenBlob> {
    return writeFromFd(this.paths, expected, fill);
  }

  /** Stores a JSON document (manifest, config, index) and returns its descriptor. */
  async putJson(value: unknown, mediaType: string): Promise<Descriptor> {
    const data = Buffer.isBuffer(value) ? value : serializeJson(value);
    const { digest, size } = await writeBuffer(this.paths, data);
    return { mediaType, digest, size } as Descriptor;
  }

  // ---- tags ----

  async readIndex(): Promise<IndexDocument> {
    return readIndex(this.paths);
  }

  /** Tagged images, in index.json order. */
  async listImages(): Promise<ImageEntry[]> {
    const doc = await readIndex(this.paths);
    return doc.manifests.flatMap((d) => {
      const name = d.annotations?.[REF_NAME_ANNOTATION];
      return name ? [{ name, descriptor: d }] : [];
    });
  }

  /**
   * The descriptor of an image given by reference (`busybox`, `host:5000/a/b:v1`,
   * `name@sha256:...`), digest, or image id prefix (as `tsrmi 3f2a`). Throws NotFoundError.
   */
  async resolve(ref: string): Promise<Descriptor> {
    return resolveInStore(this, ref);
  }

  /** Points `ref` at `desc` (replacing what it pointed at). The manifest must be stored. */
  async tag(ref: string, desc: Descriptor): Promise<void> {
    const name = normalizeTagRef(ref);
    await updateIndex(this.paths, async (doc) => {
      if (!(await this.hasBlob(desc.digest))) throw blobNotFound(desc.digest);
      const entry: Descriptor = {
        ...desc,
        annotations: { ...withoutRefName(desc.annotations), [REF_NAME_ANNOTATION]: name },
      };
      const manifests = doc.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] !== name);
      manifests.push(entry);
      return { doc: { ...doc, manifests }, result: undefined };
    });
  }

  /** Removes `ref`; returns the descriptor it pointed at. Throws NotFoundError if untagged. */
  async untag(ref: string): Promise<Descriptor> {
    const name = normalizeTagRef(ref);
    return updateIndex(this.paths, async (doc) => {
      const removed = doc.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === name);
      if (!removed) throw new NotFoundError(`No such image: ${ref}`, 'see tsimages');
      const manifests = doc.manifests.filter((d) => d !== removed);
      return { doc: { ...doc, manifests }, result: removed };
    });
  }

  /** Removes every index.json entry whose digest is `digest` (tagged or not); returns names. */
  async untagDigest(digest: Digest | string): Promise<string[]> {
    return updateIndex(this.paths, async (doc) => {
      const removed = doc.manifests.filter((d) => d.digest === digest);
      if (removed.length === 0) return { result: [] };
      const manifests = doc.manifests.filter((d) => d.digest !== digest);
      const names = removed.flatMap((d) => d.annotations?.[REF_NAME_ANNOTATION] ?? []);
      return { doc: { ...doc, manifests }, result: names };
    });
  }

  // ---- garbage collection ----

  /** Removes blobs nothing in index.json references (older than the grace period) and stale temp files. */
  async gc(opts: GcOptions = {}): Promise<GcResult> {
    return collectGarbage(this.paths, opts);
  }
}

function withoutRefName(a: Record<string, string> | undefined): Record<string, string> {
  const { [REF_NAME_ANNOTATION]: _drop, ...rest } = a ?? {};
  return rest;
}

function blobNotFound(digest: string): NotFoundError {
  return new NotFoundError(
    `blob ${digest} not found in the local store`,
    'pull or build the image again',
  );
}

function ignoreExists(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EEXIST') throw err;
}
