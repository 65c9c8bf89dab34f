// The host path behind a `RUN --mount=type=bind`, made safe to show the RUN (BuildKit's
// semantics): a `rw` bind writes to a private copy of the source (reflinked where the
// filesystem can), discarded after the RUN, never to the build context or a stage's files; and
// a bind of the build context shows what .dockerignore leaves, as BuildKit's context does, so
// an ignored secret is not readable by RUN. A read-only bind with nothing ignored binds the
// source itself, named by its root and its path there: the sandbox resolves that path inside
// the root right before mounting (runner/native/sandbox/volumes.c), so a directory swapped for
// a symlink to a host path after it was chosen binds nothing outside the root. Otherwise a
// tree of the kept entries is made in a temp dir the RUN owns (hard links for a read-only bind
// where the filesystem allows, copies otherwise), read through the context's directory fds
// (shared/tar/safe-tree.ts): a swapped path is a ChangedError, never a host file in the tree.
// bindContentKey is what a bind of the build context puts in the RUN's cache key: the shown
// files' paths, types, modes, owners, link targets and content digests (never mtimes).
import { execFile } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  unlinkSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { readlinkSelected, walkBelow, type FoundEntry } from '../context/select.js';
import { ChangedError, SafeTree, fdPath, identityOf } from '../../shared/tar/safe-tree.js';
import type { FileDigester } from './file-digests.js';
import { trackTemp } from './interrupt.js';
import { TsdockError } from '../../shared/errors.js';

const run = promisify(execFile);

export interface BindSourceOptions {
  readOnly: boolean;
  /** For a bind of the build context: its .dockerignore (paths relative to the context). */
  ignore?: { isIgnored(rel: string): boolean; hasExceptions: boolean };
  tmpRoot: string;
  /** Temp dirs made here are added, for the caller to remove after the RUN. */
  temps: string[];
}

interface Kept {
  /** Path below the source. */
  rel: string;
  /** Path below the source's root (what the SafeTree reads). */
  full: string;
  stat: BigIntStats;
}

/** What the sandbox binds: a host path we own, or a path inside a root it resolves itself. */
export interface BindSourcePath {
  source: string;
  sourceRoot?: string;
}

/** The host path to bind for a selected source (a file or directory). */
export async function bindSource(src: FoundEntry, o: BindSourceOptions): Promise<BindSourcePath> {
  const safe = new SafeTree(src.root);
  try {
    const kept = src.stat.isDirectory() && o.ignore ? keptBelow(src, o.ignore, safe) : undefined;
    if (!kept) {
      if (o.readOnly) return { sourceRoot: src.root, source: src.rel || '.' };
      return { source: await copyAll(src, safe, await tempDir(o)) };
    }
    const tree = join(await tempDir(o), 'src');
    mkdirSync(tree);
    const dirs: [string, Stats | BigIntStats][] = [[tree, src.stat]];
    const made = new Set(['']);
    for (const e of kept) {
      const parent = posix.dirname(e.rel) === '.' ? '' : posix.dirname(e.rel);
      if (!made.has(parent)) {
        // kept by a `!` exception inside an ignored directory: its parents are plain dirs
        mkdirSync(join(tree, parent), { recursive: true });
        made.add(parent);
      }
      const dest = join(tree, e.rel);
      place(dest, e, o.readOnly, safe);
      if (e.stat.isDirectory()) {
        dirs.push([dest, e.stat]);
        made.add(e.rel);
      }
    }
    // Directories last, deepest first: placing their entries changed their mtimes.
    for (const [dest, st] of dirs.reverse()) keepMeta(dest, st);
    return { source: tree };
  } finally {
    safe.close();
  }
}

/**
 * The identity of what a bind of `src` shows (what .dockerignore keeps of it): a changed file
 * below it makes another key, the same files the same key (BuildKit keys a bind by content).
 */
export async function bindContentKey(
  src: FoundEntry,
  ignore: { isIgnored(rel: string): boolean; hasExceptions: boolean },
  digester: FileDigester,
): Promise<string> {
  const below = src.stat.isDirectory()
    ? await walkBelow(src, (r) => ignore.isIgnored(r), ignore.hasExceptions)
    : [];
  const h = createHash('sha256');
  for (const e of [src, ...below]) {
    const st = e.stat;
    const content = st.isFile()
      ? await digester.digest(e.abs, st, e.root)
      : st.isSymbolicLink()
        ? readlinkSelected(e)
        : '';
    const rel = e === src ? '.' : e.rel.slice(src.rel ? src.rel.length + 1 : 0);
    h.update(`${rel}\0${st.mode.toString(8)}\0${st.uid}:${st.gid}\0${content}\n`);
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * What .dockerignore keeps below a context directory (paths relative to it, parents first), or
 * undefined when it keeps everything. Synchronous calls: microseconds each (see dir-walk.ts).
 */
function keptBelow(
  src: FoundEntry,
  ignore: NonNullable<BindSourceOptions['ignore']>,
  safe: SafeTree,
): Kept[] | undefined {
  const out: Kept[] = [];
  let skipped = false;
  const below = (r: string) => (src.rel ? `${src.rel}/${r}` : r);
  checkIdentity(safe, src.rel, fstatSync(safe.dirFd(src.rel), { bigint: true }), src.stat);
  const visit = (rel: string) => {
    for (const name of safe.list(rel === '' ? src.rel : below(rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const full = below(r);
      const stat = safe.lstat(full);
      const ignored = ignore.isIgnored(full);
      skipped ||= ignored;
      if (!ignored) out.push({ rel: r, full, stat });
      if (stat.isDirectory() && (!ignored || ignore.hasExceptions)) visit(r);
    }
  };
  visit('');
  return skipped ? out : undefined;
}

/** The selected entry must still be the inode selected. */
function checkIdentity(
  safe: SafeTree,
  rel: string,
  now: BigIntStats | Stats,
  selected: BigIntStats | Stats,
): void {
  const id = (st: BigIntStats | Stats) => identityOf({ dev: Number(st.dev), ino: Number(st.ino) });
  if (id(now) !== id(selected)) throw new ChangedError(safe.root, rel);
}

async function tempDir(o: BindSourceOptions): Promise<string> {
  const dir = trackTemp(await mkdtemp(join(o.tmpRoot, 'bind-')));
  o.temps.push(dir);
  return dir;
}

/**
 * A private copy of a file or tree (cp -a: owners, modes, times, links kept, no link followed
 * below it), read from the source's own fd: `cp -H` follows only that magic link, to the inode
 * selected, whatever its path leads to by now.
 */
async function copyAll(src: FoundEntry, safe: SafeTree, dir: string): Promise<string> {
  const copy = join(dir, 'src');
  let fd: number;
  let owned = false;
  if (src.stat.isDirectory()) {
    fd = safe.dirFd(src.rel);
    checkIdentity(safe, src.rel, fstatSync(fd, { bigint: true }), src.stat);
  } else if (src.stat.isFile()) {
    fd = safe.openFile(src.rel, identityOf(src.stat));
    owned = true;
  } else
    throw new TsdockError(
      `--mount source "${src.rel}" is neither a file nor a directory`,
      'a writable bind copies files and directories only; mount it readonly',
    );
  try {
    await run('cp', ['-a', '-H', '--reflink=auto', '--', `/proc/${process.pid}/fd/${fd}`, copy]);
  } finally {
    if (owned) closeSync(fd);
  }
  return copy;
}

/** One kept entry in the tree (its parent is there). */
function place(dest: string, e: Kept, readOnly: boolean, safe: SafeTree): void {
  if (e.stat.isDirectory()) {
    mkdirSync(dest, { recursive: true }); // metadata once its entries are in
    return;
  }
  if (e.stat.isSymbolicLink()) symlinkSync(safe.readlink(e.full), dest);
  else if (e.stat.isFile()) {
    // A read-only bind cannot write through a hard link; a writable one gets its own copy.
    if (readOnly && tryLink(join(safe.root, e.full), dest, e, safe)) return;
    const fd = safe.openFile(e.full, identityOf(e.stat));
    try {
      copyFileSync(fdPath(fd), dest, constants.COPYFILE_FICLONE);
    } finally {
      closeSync(fd);
    }
  } else return; // sockets, devices, fifos of a context are not shown
  keepMeta(dest, e.stat);
}

/** A hard link of the kept file, if the filesystem allows and it is still the inode kept. */
function tryLink(from: string, to: string, e: Kept, safe: SafeTree): boolean {
  try {
    linkSync(from, to);
  } catch {
    return false; // another filesystem, or links not allowed: copy
  }
  try {
    checkIdentity(safe, e.full, lstatSync(to), e.stat);
  } catch (err) {
    unlinkSync(to); // a path swapped meanwhile linked something else: never shown
    throw err;
  }
  return true;
}

function keepMeta(dest: string, st: Stats | BigIntStats): void {
  lchownSync(dest, Number(st.uid), Number(st.gid));
  if (!st.isSymbolicLink()) chmodSync(dest, Number(st.mode) & 0o7777);
  lutimesSync(dest, st.atime, st.mtime);
}
