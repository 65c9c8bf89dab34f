// Crash-safe file writes: write a temp file in the target's directory, fsync it, rename it
// over the target, fsync the directory. Readers see the old file or the new one, never a mix.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
  fchmodSync,
  mkdirSync,
} from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteOptions {
  /** File mode of the result (exact: not reduced by the umask). Default 0o644 less umask. */
  mode?: number;
}

/** A unique, not-yet-existing path in `dir` starting with `prefix`. */
export function tempPath(dir: string, prefix: string): string {
  return join(dir, `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Atomically replaces `path` with `data` (temp file + fsync + rename + fsync of the dir). */
export async function writeFileAtomic(
  path: string,
  data: Buffer | string,
  opts: WriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPath(dir, `.${basename(path)}.tmp-`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      if (opts.mode !== undefined) await fh.chmod(opts.mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** The synchronous twin of writeFileAtomic, for state files written on exit paths. */
export function writeFileAtomicSync(
  path: string,
  data: Buffer | string,
  opts: WriteOptions = {},
): void {
  const dir = dirname(path);
  const tmp = tempPath(dir, `.${basename(path)}.tmp-`);
  const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      if (opts.mode !== undefined) fchmodSync(fd, opts.mode);
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDirSync(dir);
}

/** Makes a rename or create in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p; `mode` applies to directories it creates (less the umask). */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  await mkdir(dir, { recursive: true, ...(mode !== undefined ? { mode } : {}) });
}

export function ensureDirSync(dir: string, mode?: number): void {
  mkdirSync(dir, { recursive: true, ...(mode !== undefined ? { mode } : {}) });
}

/** rm -rf that does not mind a missing path. */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
}
