// A read-only look at the image being built, through its unpacked layer directories (top layer
// first, overlay whiteouts respected): does a path exist, is it a directory, and the user/group
// names of /etc/passwd and /etc/group for `COPY --chown=name:group`.
import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Stats } from 'node:fs';
import { errorAt, type SourceLocation } from '../errors.js';

export class RootfsView {
  /** `layerDirs` bottom first, as unpackLayers returns them. */
  constructor(private readonly layerDirs: string[]) {}

  async stat(path: string): Promise<Stats | undefined> {
    const rel = posix.resolve('/', path).slice(1);
    if (rel === '') return lstat(this.layerDirs[0] ?? '/');
    for (let i = this.layerDirs.length - 1; i >= 0; i--) {
      const st = await lstat(join(this.layerDirs[i]!, rel)).catch(() => undefined);
      if (!st) continue;
      if (st.isCharacterDevice() && st.rdev === 0) return undefined;
      return st;
    }
    return undefined;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== undefined || posix.resolve('/', path) === '/';
  }

  async isDir(path: string): Promise<boolean> {
    if (posix.resolve('/', path) === '/') return true;
    return (await this.stat(path))?.isDirectory() ?? false;
  }

  async readText(path: string): Promise<string | undefined> {
    const rel = path.replace(/^\/+/, '');
    for (let i = this.layerDirs.length - 1; i >= 0; i--) {
      const text = await readFile(join(this.layerDirs[i]!, rel), 'utf8').catch(() => undefined);
      if (text !== undefined) return text;
    }
    return undefined;
  }
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
