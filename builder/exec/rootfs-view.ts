// A read-only look at the image being built, through its unpacked layer directories (top layer
// first, overlay whiteouts respected): what a path is, where its symlinks lead, and the
// user/group names of /etc/passwd and /etc/group for `COPY --chown=name:group`.
// Lookups never follow a symlink on the host: each layer is walked component by component, and
// a non-directory on the way (a symlink, a file) hides the layers below, as in the overlay.
// resolve() follows the image's own symlinks as if chrooted, so COPY and WORKDIR write through
// /lnk/sub to where /lnk points (as BuildKit does) instead of shadowing the link with a dir.
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Stats } from 'node:fs';
import { errorAt, type SourceLocation } from '../errors.js';
import type { OwnerMap } from './namespace-probe.js';

const MAX_LINKS = 40;

type Lookup = { st: Stats; abs: string } | 'absent' | 'hidden';

export class RootfsView {
  /**
   * `layerDirs` bottom first, as unpackLayers returns them; `owners` turns the owners stat
   * reports into the namespace's view (a rootless build as the plain user).
   */
  constructor(
    private readonly layerDirs: string[],
    private readonly owners?: OwnerMap,
  ) {}

  /** Where a path is, exactly (its last component not followed); undefined when missing. */
  private async locate(path: string): Promise<{ st: Stats; abs: string } | undefined> {
    const parts = posix.resolve('/', path).split('/').filter(Boolean);
    if (parts.length === 0) {
      const abs = this.layerDirs[0] ?? '/';
      return { st: await lstat(abs), abs };
    }
    for (let i = this.layerDirs.length - 1; i >= 0; i--) {
      const found = await lookupIn(this.layerDirs[i]!, parts);
      if (found === 'hidden') return undefined;
      if (found !== 'absent') return found;
    }
    return undefined;
  }

  async stat(path: string): Promise<Stats | undefined> {
    const st = (await this.locate(path))?.st;
    return st && this.owners ? this.owners(st) : st;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== undefined || posix.resolve('/', path) === '/';
  }

  async isDir(path: string): Promise<boolean> {
    if (posix.resolve('/', path) === '/') return true;
    return (await this.stat(await this.resolve(path)))?.isDirectory() ?? false;
  }

  /**
   * The path with the image's symlinks resolved inside the image (never above its root);
   * missing components are kept as written. The last one is followed unless followLast is false.
   */
  async resolve(path: string, followLast = true): Promise<string> {
    const queue = posix.resolve('/', path).split('/').filter(Boolean);
    const stack: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '.') continue;
      if (c === '..') {
        stack.pop();
        continue;
      }
      const found = await this.locate(`/${[...stack, c].join('/')}`);
      if (found?.st.isSymbolicLink() && (queue.length > 0 || followLast) && hops++ < MAX_LINKS) {
        const target = await readlink(found.abs);
        if (target.startsWith('/')) stack.length = 0;
        queue.unshift(...target.split('/').filter(Boolean));
        continue;
      }
      stack.push(c);
    }
    return `/${stack.join('/')}`;
  }

  /** Where COPY writes DEST: its parents resolved, and DEST itself when it leads to a directory. */
  async resolveDest(path: string): Promise<string> {
    const abs = posix.resolve('/', path);
    if (abs === '/') return abs;
    const last = posix.join(await this.resolve(posix.dirname(abs)), posix.basename(abs));
    const followed = await this.resolve(last);
    return (await this.stat(followed))?.isDirectory() ? followed : last;
  }

  /** A regular file's text (symlinks resolved in the image); undefined when there is none. */
  async readText(path: string): Promise<string | undefined> {
    const found = await this.locate(await this.resolve(path));
    if (!found?.st.isFile()) return undefined;
    return readFile(found.abs, 'utf8').catch(() => undefined);
  }
}

/** One layer's entry for a path: its own, 'absent' (look lower) or 'hidden' (deleted/shadowed). */
async function lookupIn(layer: string, parts: string[]): Promise<Lookup> {
  let abs = layer;
  for (let k = 0; k < parts.length; k++) {
    abs = join(abs, parts[k]!);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return 'absent';
    if (st.isCharacterDevice() && st.rdev === 0) return 'hidden'; // whiteout
    if (k === parts.length - 1) return { st, abs };
    if (!st.isDirectory()) return 'hidden';
  }
  return 'absent';
}

/** Resolves `--chown=user[:group]` (names or numbers) against the image's passwd/group files. */
export async function resolveChown(
  spec: string | undefined,
  view: RootfsView | undefined,
  loc: SourceLocation,
): Promise<{ uid: number; gid: number }> {
  if (!spec) return { uid: 0, gid: 0 };
  const [user, group] = spec.split(':') as [string, string | undefined];
  const lookup = async (file: string, name: string, what: string): Promise<string[]> => {
    const text = (await view?.readText(file)) ?? '';
    const row = text
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === name);
    if (!row)
      throw errorAt(
        loc,
        `unable to find ${what} ${name}`,
        `no such ${what} in the image's ${file}`,
      );
    return row;
  };
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const row = await lookup('/etc/passwd', user, 'user');
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (group !== undefined && group !== '')
    gid = /^\d+$/.test(group)
      ? Number(group)
      : Number((await lookup('/etc/group', group, 'group'))[2]);
  return { uid, gid: gid ?? uid };
}
