// Walks a directory tree into layer entries (lstat only, never following symlinks), with the
// inode identity for hardlink detection and, on request, every entry's xattrs (one fsops
// helper, pipelined).
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { TarType } from './tar-format.js';
import type { LayerEntry } from './tar-writer.js';
import { FsOps } from './fsops.js';

export interface WalkedEntry extends LayerEntry {
  /** Absolute path on disk. */
  abs: string;
  stat: BigIntStats;
  /** All xattrs as found (unfiltered), when asked for. */
  allXattrs?: Map<string, Buffer>;
}

export interface WalkOptions {
  filter?: (relPath: string) => boolean;
  xattrs?: boolean;
}

/** Entries of everything under root (root itself excluded), in no particular order. */
// Synchronous lstat/readdir: microseconds each, where an async call costs a thread-pool trip.
export async function walkDir(root: string, opts: WalkOptions = {}): Promise<WalkedEntry[]> {
  const out: WalkedEntry[] = [];
  const visit = (rel: string): void => {
    for (const n of readdirSync(rel ? join(root, rel) : root)) {
      const r = rel ? `${rel}/${n}` : n;
      if (opts.filter && !opts.filter(r)) continue;
      const e = entryFor(join(root, r), r);
      if (!e) continue; // sockets are left out, as docker does
      out.push(e);
      if (e.type === 'dir') visit(r);
    }
  };
  visit('');
  if (opts.xattrs !== false) await readXattrs(root, out);
  return out;
}

/** The entry for one path (content is read at write time); undefined for a socket. */
export function entryFor(abs: string, rel: string): WalkedEntry | undefined {
  const st = lstatSync(abs, { bigint: true });
  const type = typeOf(st);
  if (!type) return undefined;
  const e: WalkedEntry = {
    abs,
    stat: st,
    path: rel,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: Number(st.mtimeMs / 1000n),
  };
  if (type === 'file') {
    e.source = abs;
    if (st.nlink > 1n) e.inode = `${st.dev}:${st.ino}`;
  } else if (type === 'symlink') e.linkname = readlinkSync(abs);
  else if (type === 'char' || type === 'block') {
    e.devmajor = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
    e.devminor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
  }
  return e;
}

function typeOf(st: BigIntStats): TarType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

async function readXattrs(root: string, entries: WalkedEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const ops = new FsOps(root);
  try {
    const all = await Promise.all(entries.map((e) => ops.listXattrs(e.path)));
    entries.forEach((e, i) => {
      if (all[i]!.size > 0) e.allXattrs = all[i];
    });
  } finally {
    await ops.close();
  }
}
