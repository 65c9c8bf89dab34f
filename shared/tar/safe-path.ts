// Path containment for extraction. Archive paths are cleaned lexically (a leading "/" is
// stripped, as docker does; ".." that climbs above the root is refused), then directories are
// resolved one component at a time with lstat: a symlink met on the way is interpreted as if the
// root were "/" (chroot semantics, like containerd's fs.RootPath), so no path ever leaves the
// root, and nothing is created through a link. Known real directories are cached; callers
// invalidate the cache when they remove or replace a directory.
import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';

const MAX_LINK_HOPS = 40;

/** Cleans an archive path to "a/b/c" (no leading/trailing slash, no "." or ".."); "" is the root. */
export function cleanPath(raw: string): string {
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) {
        throw new InvalidInputError(
          `layer entry "${raw}" escapes the root; refused`,
          'the layer is malformed or hostile',
        );
      }
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

export function splitParent(rel: string): [string, string] {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

export class RootResolver {
  private readonly dirs = new Set<string>(['']);
  /** Directories created by this extraction (their children all come from it too). */
  readonly fresh = new Set<string>();
  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel ? join(this.root, rel) : this.root;
  }

  /**
   * The real path (relative to the root) of directory `rel`, following symlinks inside the
   * root. Missing directories are created (0755) when `create`, else undefined is returned.
   */
  resolveDir(rel: string, create: boolean, entry: string): string | undefined {
    if (this.dirs.has(rel)) return rel;
    const stack: string[] = [];
    const queue = rel.split('/');
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop();
        continue;
      }
      const candidate = stack.length ? `${stack.join('/')}/${c}` : c;
      if (this.dirs.has(candidate)) {
        stack.push(c);
        continue;
      }
      const st = lstatSync(this.abs(candidate), { throwIfNoEntry: false });
      if (!st) {
        if (!create) return undefined;
        mkdirSync(this.abs(candidate), { mode: 0o755 });
        this.dirs.add(candidate);
        this.fresh.add(candidate);
        stack.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_LINK_HOPS) {
          throw new InvalidInputError(`layer entry "${entry}": too many levels of symlinks`);
        }
        const target = readlinkSync(this.abs(candidate));
        if (target.startsWith('/')) stack.length = 0;
        queue.unshift(...target.split('/'));
      } else if (st.isDirectory()) {
        this.dirs.add(candidate);
        stack.push(c);
      } else {
        throw new InvalidInputError(
          `layer entry "${entry}": "${candidate}" is not a directory`,
          'the layer is malformed',
        );
      }
    }
    return stack.join('/');
  }

  /** Records that rel is now a real directory. */
  markDir(rel: string): void {
    this.dirs.add(rel);
  }

  /** Forgets rel and everything below it (after removing or replacing it). */
  forget(rel: string): void {
    if (rel === '') return;
    const prefix = `${rel}/`;
    for (const set of [this.dirs, this.fresh]) {
      set.delete(rel);
      for (const d of set) if (d.startsWith(prefix)) set.delete(d);
    }
  }
}
