// An in-memory StorageDriver for tests: a map of key -> content; directories are implied by
// key prefixes. Same contract as the filesystem driver (see ../../driver.ts).
import { Readable, Writable } from 'node:stream';
import {
  PathNotFoundError,
  type FileInfo,
  type FileWriter,
  type StorageDriver,
} from '../../driver.js';

interface Entry {
  data: Buffer;
  modTime: Date;
}

export class InMemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  private readonly files = new Map<string, Entry>();

  async getContent(path: string): Promise<Buffer> {
    return Buffer.from(this.get(path).data);
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    this.files.set(path, { data: Buffer.from(content), modTime: new Date() });
  }

  async reader(path: string, offset = 0, end?: number): Promise<Readable> {
    const data = this.get(path).data;
    return Readable.from([data.subarray(offset, end === undefined ? undefined : end + 1)]);
  }

  async writer(path: string, opts: { append: boolean }): Promise<FileWriter> {
    const chunks: Buffer[] = [];
    const existing = opts.append ? this.files.get(path)?.data : undefined;
    if (existing) chunks.push(existing);
    let size = existing?.length ?? 0;
    this.files.set(path, { data: Buffer.concat(chunks), modTime: new Date() });
    const stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        chunks.push(chunk);
        size += chunk.length;
        this.files.set(path, { data: Buffer.concat(chunks), modTime: new Date() });
        cb();
      },
    });
    return {
      stream,
      size: () => size,
      commit: async () => {
        if (!stream.writableFinished) await new Promise<void>((r) => stream.end(() => r()));
      },
      cancel: async () => {
        stream.destroy();
        this.files.delete(path);
      },
    };
  }

  async stat(path: string): Promise<FileInfo> {
    const f = this.files.get(path);
    if (f) return { path, size: f.data.length, modTime: f.modTime, isDir: false };
    if (this.childrenOf(path).length > 0)
      return { path, size: 0, modTime: new Date(0), isDir: true };
    throw new PathNotFoundError(path);
  }

  async list(path: string): Promise<string[]> {
    const children = this.childrenOf(path);
    if (children.length === 0) throw new PathNotFoundError(path);
    return children;
  }

  async truncate(path: string, size: number): Promise<void> {
    const f = this.get(path);
    this.files.set(path, { data: f.data.subarray(0, size), modTime: new Date() });
  }

  async move(source: string, dest: string): Promise<void> {
    const f = this.get(source);
    this.files.delete(source);
    this.files.set(dest, f);
  }

  async delete(path: string): Promise<void> {
    let found = this.files.delete(path);
    for (const key of [...this.files.keys()])
      if (key.startsWith(`${path}/`)) found = this.files.delete(key) || found;
    if (!found) throw new PathNotFoundError(path);
  }

  async walk(path: string, fn: (info: FileInfo) => Promise<void> | void): Promise<void> {
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const key of [...this.files.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      const f = this.files.get(key);
      if (f) await fn({ path: key, size: f.data.length, modTime: f.modTime, isDir: false });
    }
  }

  private get(path: string): Entry {
    const f = this.files.get(path);
    if (!f) throw new PathNotFoundError(path);
    return f;
  }

  private childrenOf(path: string): string[] {
    const prefix = path === '/' ? '/' : `${path}/`;
    const out = new Set<string>();
    for (const key of this.files.keys())
      if (key.startsWith(prefix)) out.add(prefix + key.slice(prefix.length).split('/')[0]);
    return [...out].sort();
  }
}
