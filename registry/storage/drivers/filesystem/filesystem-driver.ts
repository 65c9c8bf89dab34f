// The filesystem StorageDriver: keys map below a root directory. Writes of whole files go
// through a temporary name and rename(2). What becomes visible under a final name is durable
// first: putContent and move fsync the file before the rename and the directories that gained an
// entry after it (one file fsync per blob, not per chunk), so an acknowledged push survives a
// crash and no blob name ever points at bytes that were not on disk. Readers are plain file streams (1 MiB reads), blob
// bodies are sent from reused 1 MiB buffers and written in 1 MiB batches (./file-io.ts, shared/write-all.ts), so a
// blob of any size is served and received in constant memory.
import { promises as fsp, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FileSink } from '../../../../shared/write-all.js';
import { fsyncDir, writeFileAtomic } from '../../../../shared/fs-atomic.js';
import { sendFile } from './file-io.js';
import {
  PathNotFoundError,
  type FileInfo,
  type FileWriter,
  type StorageDriver,
} from '../../driver.js';

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  constructor(readonly root: string) {}

  /** The real file path of a key (the fast path uses it to serve blobs directly). */
  fullPath(path: string): string {
    if (!path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '.'))
      throw new Error(`invalid storage path ${path}`);
    return join(this.root, path);
  }

  async getContent(path: string): Promise<Buffer> {
    return await this.wrap(path, () => fsp.readFile(this.fullPath(path)));
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    const full = this.fullPath(path);
    const created = await fsp.mkdir(dirname(full), { recursive: true });
    await writeFileAtomic(full, content);
    await syncCreatedDirs(dirname(full), created);
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    const full = this.fullPath(path);
    const handle = await this.wrap(path, () => fsp.open(full, 'r'));
    return handle.createReadStream({ start: offset, end, highWaterMark: 1 << 20, autoClose: true });
  }

  async send(path: string, dest: Writable, offset: number, end: number): Promise<void> {
    const handle = await this.wrap(path, () => fsp.open(this.fullPath(path), 'r'));
    try {
      await sendFile(handle, dest, offset, end);
    } finally {
      await handle.close();
    }
  }

  async writer(path: string, opts: { append: boolean }): Promise<FileWriter> {
    const full = this.fullPath(path);
    await fsp.mkdir(dirname(full), { recursive: true });
    const handle = await fsp.open(full, opts.append ? 'a' : 'w');
    const base = opts.append ? (await handle.stat()).size : 0;
    const stream = new FileSink(handle);
    // Resolves once the handle is closed; rejects if writing the last batch failed.
    const closed = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const settle = (): void => {
          const err = stream.errored;
          if (err) reject(err);
          else resolve();
        };
        if (stream.closed) return settle();
        stream.once('close', settle);
        stream.once('error', () => {});
        if (!stream.writableEnded && !stream.destroyed) stream.end();
      });
    return {
      stream,
      size: () => base + stream.written,
      commit: closed,
      cancel: async () => {
        stream.destroy();
        await fsp.rm(full, { force: true });
      },
    };
  }

  async stat(path: string): Promise<FileInfo> {
    const s = await this.wrap(path, () => fsp.stat(this.fullPath(path)));
    return info(path, s);
  }

  async list(path: string): Promise<string[]> {
    const names = await this.wrap(path, () => fsp.readdir(this.fullPath(path)));
    const base = path === '/' ? '' : path;
    return names.filter((n) => !n.includes('.tmp-')).map((n) => `${base}/${n}`);
  }

  async truncate(path: string, size: number): Promise<void> {
    await this.wrap(path, () => fsp.truncate(this.fullPath(path), size));
  }

  async move(source: string, dest: string): Promise<void> {
    const from = this.fullPath(source);
    const to = this.fullPath(dest);
    await this.wrap(source, () => syncFile(from));
    const created = await fsp.mkdir(dirname(to), { recursive: true });
    await this.wrap(source, () => fsp.rename(from, to));
    await fsyncDir(dirname(to));
    await syncCreatedDirs(dirname(to), created);
  }

  async delete(path: string): Promise<void> {
    const full = this.fullPath(path);
    await this.wrap(path, () => fsp.lstat(full));
    await fsp.rm(full, { recursive: true, force: true });
  }

  async walk(path: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void> {
    let children: string[];
    try {
      children = await this.list(path);
    } catch (err) {
      if (err instanceof PathNotFoundError) return;
      throw err;
    }
    for (const child of children.sort()) {
      let s: Stats;
      try {
        s = await fsp.stat(this.fullPath(child));
      } catch {
        continue; // removed while walking
      }
      if (s.isDirectory()) await this.walk(child, fn);
      else await fn(info(child, s));
    }
  }

  private async wrap<T>(path: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new PathNotFoundError(path);
      throw err;
    }
  }
}

/** Flushes a file's data (and size) to disk. */
async function syncFile(path: string): Promise<void> {
  const handle = await fsp.open(path, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes directories that `mkdir -p` just made durable: `created` is the first one it made (its
 * return value), `dir` the deepest; each parent of a new directory gets an fsync.
 */
async function syncCreatedDirs(dir: string, created: string | undefined): Promise<void> {
  if (created === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === created || dirname(d) === d) return;
  }
}

function info(path: string, s: Stats): FileInfo {
  return { path, size: s.size, modTime: s.mtime, isDir: s.isDirectory() };
}
