// Where an import reads from: an OCI image layout directory (or an extracted `docker save`), or
// a tar of either (optionally gzipped) read in one streaming pass: every `blobs/<algo>/<hex>`
// goes straight into the store verified against its name; small files are kept for inspection;
// large files (legacy `docker save` layer.tar) are stored as blobs and remembered by path.
import { createReadStream, promises as fs } from 'node:fs';
import { join, normalize } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isDigest, type Digest } from '../digest.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { readTar } from '../tar/tar-reader.js';
import type { ContentStore, WrittenBlob } from './content-store.js';

const SMALL_FILE_LIMIT = 4 << 20;
const BLOB_PATH_RE = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

/** Read access to an archive being imported. */
export interface LayoutSource {
  /** A small metadata file (index.json, manifest.json, a legacy config), if present. */
  file(path: string): Promise<Buffer | undefined>;
  /** Ensures a blob is in the store, verified; throws NotFoundError if the archive lacks it. */
  importBlob(desc: { digest: string; size?: number }): Promise<void>;
  /** Stores any file of the archive as a blob (legacy layer.tar) and returns its digest. */
  importFile(path: string): Promise<WrittenBlob>;
}

/** Opens a directory or a tar file (by its content, not its name). */
export async function openLayoutSource(store: ContentStore, path: string): Promise<LayoutSource> {
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) throw new NotFoundError(`${path}: no such file or directory`);
  if (st.isDirectory()) return new DirSource(store, path);
  return scanTar(store, createReadStream(path));
}

class DirSource implements LayoutSource {
  constructor(
    private readonly store: ContentStore,
    private readonly dir: string,
  ) {}
  async file(path: string): Promise<Buffer | undefined> {
    const full = this.resolve(path);
    const st = await fs.stat(full).catch(() => undefined);
    if (!st?.isFile() || st.size > SMALL_FILE_LIMIT) return undefined;
    return fs.readFile(full);
  }
  async importBlob(desc: { digest: string; size?: number }): Promise<void> {
    if ((await this.store.statBlob(desc.digest)) !== undefined) return;
    const path = join(this.dir, blobEntryName(desc.digest));
    if (!(await fs.stat(path).catch(() => undefined))) throw missingBlob(desc.digest);
    await this.store.writeBlob(createReadStream(path), { digest: desc.digest, size: desc.size });
  }
  async importFile(path: string): Promise<WrittenBlob> {
    const full = this.resolve(path);
    if (!(await fs.stat(full).catch(() => undefined))) throw missingFile(path);
    return this.store.writeBlob(createReadStream(full));
  }
  private resolve(path: string): string {
    return join(this.dir, safeArchivePath(path));
  }
}

class TarSource implements LayoutSource {
  readonly files = new Map<string, Buffer>();
  readonly largeFiles = new Map<string, WrittenBlob>();
  constructor(private readonly store: ContentStore) {}
  async file(path: string): Promise<Buffer | undefined> {
    return this.files.get(safeArchivePath(path));
  }
  async importBlob(desc: { digest: string; size?: number }): Promise<void> {
    const size = await this.store.statBlob(desc.digest);
    if (size === undefined) throw missingBlob(desc.digest);
    if (desc.size !== undefined && size !== desc.size) {
      throw new InvalidInputError(
        `blob ${desc.digest} is ${size} bytes, its descriptor says ${desc.size}`,
      );
    }
  }
  async importFile(path: string): Promise<WrittenBlob> {
    const name = safeArchivePath(path);
    const large = this.largeFiles.get(name);
    if (large) return large;
    const small = this.files.get(name);
    if (!small) throw missingFile(path);
    return this.store.writeBlob(small);
  }
}

/** Reads a (possibly gzipped) tar once, storing blobs as they stream past. */
export async function scanTar(store: ContentStore, input: Readable): Promise<LayoutSource> {
  const source = new TarSource(store);
  try {
    for await (const { header, body } of readTar(plainTar(input))) {
      if (header.type !== 'file') continue; // directories, links: nothing to import
      const name = safeArchivePath(header.path);
      const m = BLOB_PATH_RE.exec(name);
      if (m && isDigest(`${m[1]}:${m[2]}`)) {
        await store.writeBlob(body, { digest: `${m[1]}:${m[2]}` as Digest, size: header.size });
      } else if (header.size <= SMALL_FILE_LIMIT) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        source.files.set(name, Buffer.concat(chunks));
      } else {
        source.largeFiles.set(name, await store.writeBlob(body));
      }
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  return source;
}

/** Yields the plain tar bytes of a tar or a gzipped tar (recognised by its magic). */
async function* plainTar(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new InvalidInputError('the archive is empty');
  async function* all(): AsyncGenerator<Buffer> {
    yield first.value;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const head = first.value;
  if (head[0] !== 0x1f || head[1] !== 0x8b) return yield* all();
  const compressed = Readable.from(all());
  const gunzip = createGunzip();
  compressed.on('error', (err) => gunzip.destroy(err));
  yield* compressed.pipe(gunzip);
}

/** Normalises a path inside an archive and refuses ones that escape it. */
export function safeArchivePath(path: string): string {
  const n = normalize(path.replace(/^(\.\/)+/, '')).replace(/\/+$/, '');
  if (n.startsWith('/') || n === '..' || n.startsWith('../') || n === '.') {
    throw new InvalidInputError(
      `unsafe path in archive: ${path}`,
      'the archive is malformed or hostile',
    );
  }
  return n;
}

export function blobEntryName(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return `blobs/${algorithm}/${hex}`;
}

function missingBlob(digest: string): NotFoundError {
  return new NotFoundError(
    `the archive lacks blob ${digest}`,
    'the layout is incomplete; export it again',
  );
}

function missingFile(path: string): NotFoundError {
  return new NotFoundError(`the archive lacks ${path}`, 'the archive is incomplete');
}
