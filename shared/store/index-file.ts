// index.json of the store's OCI layout: read without a lock (it is only ever replaced by rename),
// updated under the layout's lock file with temp + fsync + rename, so concurrent taggers in
// several processes are serialised and a crash leaves either the old or the new index.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { InvalidInputError } from '../errors.js';
import type { Descriptor } from '../manifest.js';
import { MediaType } from '../media-types.js';
import { syncDir } from './blob-writer.js';
import type { LayoutPaths } from './layout-paths.js';
import { withLock } from './lock-file.js';

export interface IndexDocument {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export async function readIndex(paths: LayoutPaths): Promise<IndexDocument> {
  return readIndexFile(paths.indexFile);
}

/** Reads any layout's index.json; a missing one is empty. */
export async function readIndexFile(path: string): Promise<IndexDocument> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
    throw err;
  }
  if (text.trim() === '') return emptyIndex(); // being created by ContentStore.open
  let doc: IndexDocument;
  try {
    doc = JSON.parse(text) as IndexDocument;
  } catch {
    throw new InvalidInputError(
      `${path} is not valid JSON`,
      'restore it from a backup or remove it (tags will be lost, blobs are kept)',
    );
  }
  if (!Array.isArray(doc.manifests)) {
    throw new InvalidInputError(`${path}: "manifests" must be an array`);
  }
  return doc;
}

export function emptyIndex(): IndexDocument {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

/** Replaces index.json atomically. Callers hold the index lock. */
export async function writeIndex(paths: LayoutPaths, doc: IndexDocument): Promise<void> {
  const temp = `${paths.indexFile}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await fs.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(doc)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, paths.indexFile);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await syncDir(paths.root);
}

/** Serialises read-modify-write of index.json across processes. */
export function withIndexLock<T>(paths: LayoutPaths, fn: () => Promise<T>): Promise<T> {
  return withLock(paths.indexLock, fn);
}

/**
 * Applies `change` to the current index under the lock and writes the result (unless `change`
 * returns undefined: nothing to write). Returns what `change` computed alongside.
 */
export async function updateIndex<R>(
  paths: LayoutPaths,
  change: (doc: IndexDocument) => Promise<{ doc?: IndexDocument; result: R }>,
): Promise<R> {
  return withIndexLock(paths, async () => {
    const { doc, result } = await change(await readIndex(paths));
    if (doc) await writeIndex(paths, doc);
    return result;
  });
}
