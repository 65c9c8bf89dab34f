// The host path behind a `RUN --mount=type=bind`, made safe to show the RUN (BuildKit's
// semantics): a `rw` bind writes to a private copy of the source (reflinked where the
// filesystem can), discarded after the RUN, never to the build context or a stage's files; and
// a bind of the build context shows what .dockerignore leaves, as BuildKit's context does, so
// an ignored secret is not readable by RUN. A read-only bind with nothing ignored binds the
// source itself; otherwise a tree of the kept entries is made in a temp dir the RUN owns
// (hard links for a read-only bind where the filesystem allows, copies otherwise).
// bindContentKey is what a bind of the build context puts in the RUN's cache key: the shown
// files' paths, types, modes, owners, link targets and content digests (never mtimes).
import { execFile } from 'node:child_process';
import {
  chmodSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  type Stats,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { readlinkSelected, walkBelow, type FoundEntry } from '../context/select.js';
import type { FileDigester } from './file-digests.js';
import { trackTemp } from './interrupt.js';

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
  rel: string;
  abs: string;
  stat: Stats;
}

/** The host path to bind for a selected source (a file or directory). */
export async function bindSource(src: FoundEntry, o: BindSourceOptions): Promise<string> {
  const kept = src.stat.isDirectory() && o.ignore ? keptBelow(src, o.ignore) : undefined;
  if (!kept) return o.readOnly ? src.abs : copyAll(src.abs, await tempDir(o));
  const tree = join(await tempDir(o), 'src');
  mkdirSync(tree);
  const dirs: [string, Stats][] = [[tree, src.stat]];
  const made = new Set(['']);
  for (const e of kept) {
    const parent = posix.dirname(e.rel) === '.' ? '' : posix.dirname(e.rel);
    if (!made.has(parent)) {
      // kept by a `!` exception inside an ignored directory: its parents are plain dirs
      mkdirSync(join(tree, parent), { recursive: true });
      made.add(parent);
    }
    const dest = join(tree, e.rel);
    place(dest, e, o.readOnly);
    if (e.stat.isDirectory()) {
      dirs.push([dest, e.stat]);
      made.add(e.rel);
    }
  }
  // Directories last, deepest first: placing their entries changed their mtimes.
  for (const [dest, st] of dirs.reverse()) keepMeta(dest, st);
  return tree;
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
function keptBelow(src: FoundEntry, ignore: NonNullable<BindSourceOptions['ignore']>) {
  const out: Kept[] = [];
  let skipped = false;
  const visit = (rel: string) => {
    for (const name of readdirSync(join(src.abs, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(src.abs, r);
      const stat = lstatSync(abs);
      const ignored = ignore.isIgnored(src.rel ? `${src.rel}/${r}` : r);
      skipped ||= ignored;
      if (!ignored) out.push({ rel: r, abs, stat });
      if (stat.isDirectory() && (!ignored || ignore.hasExceptions)) visit(r);
    }
  };
  visit('');
  return skipped ? out : undefined;
}

async function tempDir(o: BindSourceOptions): Promise<string> {
  const dir = trackTemp(await mkdtemp(join(o.tmpRoot, 'bind-')));
  o.temps.push(dir);
  return dir;
}

/** A private copy of a file or tree (cp -a: owners, modes, times, links kept, no link followed). */
async function copyAll(source: string, dir: string): Promise<string> {
  const copy = join(dir, 'src');
  await run('cp', ['-a', '--reflink=auto', '--', source, copy]);
  return copy;
}

/** One kept entry in the tree (its parent is there). */
function place(dest: string, e: Kept, readOnly: boolean): void {
  if (e.stat.isDirectory()) {
    mkdirSync(dest, { recursive: true }); // metadata once its entries are in
    return;
  }
  if (e.stat.isSymbolicLink()) symlinkSync(readlinkSync(e.abs), dest);
  else if (e.stat.isFile()) {
    // A read-only bind cannot write through a hard link; a writable one gets its own copy.
    if (readOnly && tryLink(e.abs, dest)) return;
    copyFileSync(e.abs, dest, constants.COPYFILE_FICLONE);
  } else return; // sockets, devices, fifos of a context are not shown
  keepMeta(dest, e.stat);
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch {
    return false; // another filesystem, or links not allowed: copy
  }
}

function keepMeta(dest: string, st: Stats): void {
  lchownSync(dest, st.uid, st.gid);
  if (!st.isSymbolicLink()) chmodSync(dest, st.mode & 0o7777);
  lutimesSync(dest, st.atime, st.mtime);
}
