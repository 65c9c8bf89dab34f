// Walks a directory tree into layer entries (lstat only, never following symlinks, not even a
// parent directory swapped for a symlink mid-walk: see safe-tree.ts), with the inode identity
// of every file (checked again when its content is read) and for hardlink detection, and, on
// request, every entry's xattrs (one fsops helper, pipelined).
import { join } from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { TarType } from './tar-format.js';
import type { LayerEntry } from './tar-writer.js';
import { Errno, FsOps, FsOpsError } from './fsops.js';
import { ChangedError, SafeTree, identityOf } from './safe-tree.js';

export interface WalkedEntry extends LayerEntry {
  /** Absolute path on disk (for messages; content is read through sourceRoot). */
  abs: string;
  stat: BigIntStats;
  /** All xattrs as found (unfiltered), when asked for. */
  allXattrs?: Map<string, Buffer>;
}

export interface WalkOptions {
  filter?: (relPath: string) => boolean;
  xattrs?: boolean;
  /** What to do with a path that changes while we look at it (default: throw ChangedError). */
  changed?: 'error' | 'skip';
  /** Called with each path left out because it changed (changed: 'skip'). */
  onSkip?: (relPath: string) => void;
}

/** Entries of everything under root (root itself excluded), in no particular order. */
// Synchronous lstat/readdir: microseconds each, where an async call costs a thread-pool trip.
export async function walkDir(root: string, opts: WalkOptions = {}): Promise<WalkedEntry[]> {
  const out: WalkedEntry[] = [];
  const tree = new SafeTree(root);
  const visit = (rel: string): void => {
    for (const n of tree.list(rel)) {
      const r = rel ? `${rel}/${n}` : n;
      if (opts.filter && !opts.filter(r)) continue;
      let e: WalkedEntry | undefined;
      try {
        e = entryIn(tree, r);
        if (!e) continue; // sockets are left out, as docker does
        if (e.type === 'dir') {
          e.stat = tree.statDir(r); // the directory we will list, opened without following
          if (!e.stat.isDirectory()) throw new ChangedError(root, r);
        }
      } catch (err) {
        if (!(err instanceof ChangedError) || opts.changed !== 'skip') throw err;
        opts.onSkip?.(r);
        continue;
      }
      out.push(e);
      if (e.type === 'dir') visit(r);
    }
  };
  try {
    visit('');
  } finally {
    tree.close();
  }
  if (opts.xattrs === false) return out;
  const gone = await readXattrs(root, out);
  if (gone.size === 0) return out;
  if (opts.changed !== 'skip') throw new ChangedError(root, out[[...gone][0]!]!.path);
  for (const i of gone) opts.onSkip?.(out[i]!.path);
  return out.filter((_, i) => !gone.has(i));
}

/** The entry for one path (content is read at write time); undefined for a socket. */
function entryIn(tree: SafeTree, rel: string): WalkedEntry | undefined {
  const st = tree.lstat(rel);
  const type = typeOf(st);
  if (!type) return undefined;
  const e: WalkedEntry = {
    abs: join(tree.root, rel),
    stat: st,
    path: rel,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: Number(st.mtimeMs / 1000n),
  };
  if (type === 'file') {
    e.source = e.abs;
    e.sourceRoot = tree.root;
    e.sourceIdentity = identityOf(st);
    if (st.nlink > 1n) e.inode = identityOf(st);
  } else if (type === 'symlink') e.linkname = tree.readlink(rel);
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

/** Reads every entry's xattrs; returns the indexes of entries that are no longer there. */
async function readXattrs(root: string, entries: WalkedEntry[]): Promise<Set<number>> {
  const gone = new Set<number>();
  if (entries.length === 0) return gone;
  const ops = new FsOps(root);
  try {
    const all = await Promise.all(
      entries.map((e, i) =>
        ops.listXattrs(e.path).catch((err: unknown) => {
          if (!(err instanceof FsOpsError) || !GONE.has(err.errno)) throw err;
          gone.add(i);
          return new Map<string, Buffer>();
        }),
      ),
    );
    entries.forEach((e, i) => {
      if (all[i]!.size > 0) e.allXattrs = all[i];
    });
  } finally {
    await ops.close();
  }
  return gone;
}

/** errnos of a path that changed since the walk (fsops walks without following symlinks). */
const GONE = new Set<number>([Errno.ENOENT, Errno.ENOTDIR, Errno.ELOOP]);
