// Reading a tree that someone else may change while we read it (a running container's upper
// dir, a build context, a COPY source). Every path is resolved below the tree's root one
// component at a time through directory fds (`/proc/self/fd/N/name` is openat(N, name)), with
// O_NOFOLLOW, so no symlink is ever followed, not even one swapped in for a parent directory
// mid-walk. A file is read only if the fd we get is still the inode the walk saw (dev:ino) and
// a regular file: it is first opened O_PATH (no device driver's open runs) and checked, then
// reopened for reading through its own fd. Anything that changed under us is a ChangedError,
// never something else's content.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { TsdockError } from '../errors.js';

/** Linux O_PATH (the same value on every architecture Node runs tsdock on). */
const O_PATH = 0o10000000;
const DIR_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FILE_PATH_FLAGS = O_PATH | constants.O_NOFOLLOW;

/** A path in the tree changed (type, identity, or vanished) between two looks at it. */
export class ChangedError extends TsdockError {
  constructor(
    readonly root: string,
    readonly rel: string,
  ) {
    super(
      `"${rel}" under ${root} changed while it was being read`,
      'nothing else was read in its place; keep the tree still (tscommit pauses the container unless --pause=false) and retry',
    );
  }
}

/** `/proc/self/fd/N[/name]`: a lookup relative to the directory fd N. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** "dev:ino" of a stat (the identity the walk records and the reader checks). */
export function identityOf(st: { dev: bigint | number; ino: bigint | number }): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Whether st is the inode `identity` names; an identity made from number stats (fs.Stats, whose
 * dev and ino are doubles: exact below 2^53) matches the same rounding of the exact values.
 */
function sameIdentity(st: BigIntStats, identity: string): boolean {
  return (
    identityOf(st) === identity ||
    identityOf({ dev: Number(st.dev), ino: Number(st.ino) }) === identity
  );
}

const CHANGED_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EINVAL', 'ENXIO']);

/** A root and a cache of the directory fds leading to the last directory used. */
export class SafeTree {
  private readonly rootFd: number;
  /** open fds of the components of the current directory, root excluded */
  private chain: { name: string; fd: number }[] = [];

  constructor(readonly root: string) {
    this.rootFd = openSync(root, O_PATH | constants.O_DIRECTORY); // the root itself is ours
  }

  /** An O_PATH fd of directory `rel` ('' = the root); owned by the tree. */
  dirFd(rel: string): number {
    const parts = rel === '' ? [] : rel.split('/');
    let same = 0;
    while (
      same < parts.length &&
      same < this.chain.length &&
      this.chain[same]!.name === parts[same]
    )
      same++;
    for (const { fd } of this.chain.splice(same)) closeSync(fd);
    for (let i = same; i < parts.length; i++) {
      const name = parts[i]!;
      if (name === '' || name === '.' || name === '..') throw new ChangedError(this.root, rel);
      const parent = i === 0 ? this.rootFd : this.chain[i - 1]!.fd;
      const fd = this.guard(rel, () => openSync(fdPath(parent, name), DIR_FLAGS));
      this.chain.push({ name, fd });
    }
    return parts.length === 0 ? this.rootFd : this.chain[parts.length - 1]!.fd;
  }

  /** Names in directory `rel`. */
  list(rel: string): string[] {
    const fd = this.dirFd(rel);
    return this.guard(rel, () => readdirSync(fdPath(fd)));
  }

  /** lstat of `rel` itself. */
  lstat(rel: string): BigIntStats {
    const [dir, name] = split(rel);
    const fd = this.dirFd(dir);
    return this.guard(rel, () => lstatSync(fdPath(fd, name), { bigint: true }));
  }

  /** stat of directory `rel`, opened without following a symlink. */
  statDir(rel: string): BigIntStats {
    const fd = this.dirFd(rel);
    return fstatSync(fd, { bigint: true });
  }

  /** The target of symlink `rel`. */
  readlink(rel: string): string {
    const [dir, name] = split(rel);
    const fd = this.dirFd(dir);
    return this.guard(rel, () => readlinkSync(fdPath(fd, name)));
  }

  /**
   * An fd open for reading on `rel`, only if it is a regular file and (when given) still the
   * inode `identity` ("dev:ino"). The caller closes it.
   */
  openFile(rel: string, identity?: string): number {
    const [dir, name] = split(rel);
    const parent = this.dirFd(dir);
    const pathFd = this.guard(rel, () => openSync(fdPath(parent, name), FILE_PATH_FLAGS));
    try {
      const st = fstatSync(pathFd, { bigint: true });
      if (!st.isFile() || (identity !== undefined && !sameIdentity(st, identity))) {
        throw new ChangedError(this.root, rel);
      }
      return openSync(fdPath(pathFd), constants.O_RDONLY | constants.O_NOCTTY);
    } finally {
      closeSync(pathFd);
    }
  }

  close(): void {
    for (const { fd } of this.chain.splice(0)) closeSync(fd);
    closeSync(this.rootFd);
  }

  private guard<T>(rel: string, op: () => T): T {
    try {
      return op();
    } catch (err) {
      if (CHANGED_CODES.has((err as NodeJS.ErrnoException).code ?? '')) {
        throw new ChangedError(this.root, rel);
      }
      throw err;
    }
  }
}

/** Opens one file below root safely (see SafeTree.openFile); for one-off reads. */
export function openBeneath(root: string, rel: string, identity?: string): number {
  const tree = new SafeTree(root);
  try {
    return tree.openFile(rel, identity);
  } finally {
    tree.close();
  }
}

/**
 * Opens a file given only by its path: the last component is never followed and the file must
 * be regular (and `identity` when given). Parent directories are trusted: give a root
 * (SafeTree) wherever they can change.
 */
export function openNoFollow(path: string, identity?: string): number {
  const cut = path.lastIndexOf('/');
  return openBeneath(cut <= 0 ? '/' : path.slice(0, cut), path.slice(cut + 1), identity);
}

function split(rel: string): [dir: string, name: string] {
  const cut = rel.lastIndexOf('/');
  return cut < 0 ? ['', rel] : [rel.slice(0, cut), rel.slice(cut + 1)];
}
