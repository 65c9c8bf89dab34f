// The host path behind a `RUN --mount=type=bind`, made safe to show the RUN (BuildKit's
// semantics): a `rw` bind writes to a private copy of the source (reflinked where the
// filesystem can), discarded after the RUN, never to the build context or a stage's files; and
// a bind of the build context shows what .dockerignore leaves, as BuildKit's context does, so
// an ignored secret is not readable by RUN. A read-only bind with nothing ignored binds the
// source itself; otherwise a tree of the kept entries is made in a temp dir the RUN owns
// (hard links for a read-only bind where the filesystem allows, copies otherwise).
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import {
  chmod,
  copyFile,
  lchown,
  link,
  lutimes,
  mkdir,
  mkdtemp,
  readlink,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { walkBelow, type FoundEntry } from '../context/select.js';
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

/** The host path to bind for a selected source (a file or directory). */
export async function bindSource(src: FoundEntry, o: BindSourceOptions): Promise<string> {
  if (!src.stat.isDirectory() || !o.ignore) {
    return o.readOnly ? src.abs : copyAll(src.abs, await tempDir(o));
  }
  let skipped = false;
  const ignored = (rel: string) => {
    const yes = o.ignore!.isIgnored(rel);
    skipped ||= yes;
    return yes;
  };
  const kept = await walkBelow(src, ignored, o.ignore.hasExceptions);
  if (!skipped) return o.readOnly ? src.abs : copyAll(src.abs, await tempDir(o));
  const tree = join(await tempDir(o), 'src');
  await mkdir(tree);
  const base = src.rel ? src.rel.length + 1 : 0;
  const dirs: [string, FoundEntry][] = [[tree, src]];
  for (const e of kept) {
    const dest = join(tree, e.rel.slice(base));
    await place(dest, e, o.readOnly);
    if (e.stat.isDirectory()) dirs.push([dest, e]);
  }
  // Directories last, deepest first: placing their entries changed their mtimes.
  for (const [dest, e] of dirs.reverse()) await keepMeta(dest, e);
  return tree;
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

/** One kept entry in the tree (its parent may be an ignored dir: made here). */
async function place(dest: string, e: FoundEntry, readOnly: boolean): Promise<void> {
  await mkdir(join(dest, '..'), { recursive: true });
  if (e.stat.isDirectory()) {
    await mkdir(dest).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return; // metadata once its entries are in
  } else if (e.stat.isSymbolicLink()) await symlink(await readlink(e.abs), dest);
  else if (e.stat.isFile()) {
    // A read-only bind cannot write through a hard link; a writable one gets its own copy.
    if (
      readOnly &&
      (await link(e.abs, dest).then(
        () => true,
        () => false,
      ))
    )
      return;
    await copyFile(e.abs, dest, constants.COPYFILE_FICLONE);
  } else return; // sockets, devices, fifos of a context are not shown
  await keepMeta(dest, e);
}

async function keepMeta(dest: string, e: FoundEntry): Promise<void> {
  await lchown(dest, e.stat.uid, e.stat.gid);
  if (!e.stat.isSymbolicLink()) await chmod(dest, e.stat.mode & 0o7777);
  await lutimes(dest, e.stat.atime, e.stat.mtime);
}
