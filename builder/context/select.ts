// Selecting COPY/ADD sources from a root (the context, or a stage's/image's filesystem view):
// paths are confined to the root (a leading `/` or `..` cannot leave it, and symlinks on the way
// are resolved as if the root were `/`, so a link pointing out of the context finds nothing),
// wildcards follow Go's filepath.Match per path segment, and .dockerignore'd paths are invisible.
// What was selected is read later through openSelected/readlinkSelected: below the root, no
// symlink followed, and only the inode selected (a path swapped for a symlink or another file in
// between is a ChangedError, never a read of something else).
import { lstat, readdir, readlink } from 'node:fs/promises';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { SafeTree, identityOf, openBeneath } from '../../shared/tar/safe-tree.js';

/** One file-system object found under a source. */
export interface FoundEntry {
  /** The root it was selected in (abs is root/rel). */
  root: string;
  /** Path relative to the root (`a/b`). */
  rel: string;
  abs: string;
  stat: Stats;
}

/** An fd open for reading on a selected regular file, if it is still the inode selected. */
export function openSelected(f: FoundEntry): number {
  return openBeneath(f.root, f.rel, identityOf(f.stat));
}

/** The target of a selected symlink, read without following any link below the root. */
export function readlinkSelected(f: FoundEntry): string {
  const tree = new SafeTree(f.root);
  try {
    return tree.readlink(f.rel);
  } finally {
    tree.close();
  }
}

export interface SourceMatch {
  /** The matched source itself (after in-root symlink resolution). */
  root: FoundEntry;
  /** For a directory: everything below it (not itself), parents first. */
  children: FoundEntry[];
  /** Files unpacked from an ADD archive keep the archive's owners (unless --chown). */
  keepOwners?: boolean;
  /** For an extracted ADD archive: the paths (relative to root) the archive itself names. */
  archive?: Set<string>;
}

export const hasWildcard = (p: string): boolean => /[*?[]/.test(p);

/** Cleans a source path lexically as if rooted at `/`: never climbs above the root. */
export function cleanRel(p: string): string {
  return posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Resolves `rel` inside `root` following symlinks with chroot semantics; undefined if missing. */
export async function resolveInRoot(
  rootGiven: string,
  rel: string,
  followLast = true,
): Promise<FoundEntry | undefined> {
  const root = resolve(rootGiven); // normalized: every abs is root/rel, as readers check
  const queue = rel.split('/').filter((c) => c !== '' && c !== '.');
  const stack: string[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '..') {
      stack.pop();
      continue;
    }
    const cand = [...stack, c].join('/');
    const abs = join(root, cand);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink() && (queue.length > 0 || followLast)) {
      if (++hops > 40) return undefined;
      const target = await readlink(abs);
      if (target.startsWith('/')) stack.length = 0;
      queue.unshift(...target.split('/').filter((x) => x !== ''));
      continue;
    }
    stack.push(c);
    if (queue.length === 0) return { root, rel: cand, abs, stat: st };
  }
  const st = await lstat(root);
  return { root, rel: stack.join('/'), abs: join(root, stack.join('/')), stat: st };
}

/** Go filepath.Match as a RegExp over a whole `/`-separated path. */
export function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `!${cls.slice(1)}`;
      re += cls.startsWith('!')
        ? `[^/${cls.slice(1).replace(/\\/g, '\\\\')}]`
        : `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Lists everything below `dir` (relative paths from the root), skipping ignored paths.
 * Synchronous system calls on purpose: a node_modules-sized tree is 50k lstat calls, and a
 * thread-pool round trip for each costs several times the call itself (more on a busy machine).
 */
export async function walkBelow(
  dir: FoundEntry,
  ignored: (rel: string) => boolean,
  descendIgnored: boolean,
): Promise<FoundEntry[]> {
  const out: FoundEntry[] = [];
  const visit = (rel: string, abs: string): void => {
    const names = readdirSync(abs).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = join(abs, name);
      const st = lstatSync(childAbs);
      const skip = ignored(childRel);
      if (!skip) out.push({ root: dir.root, rel: childRel, abs: childAbs, stat: st });
      if (st.isDirectory() && (!skip || descendIgnored)) visit(childRel, childAbs);
    }
  };
  visit(dir.rel, dir.abs);
  return Promise.resolve(out);
}

/**
 * A wildcard source as BuildKit (fsutil) resolves it: the segments before the first wildcard are
 * resolved inside the root (symlinks followed, chroot semantics: `link/*.txt` with `link -> /sub`
 * lists <root>/sub); the rest are matched per segment, descending only through real directories.
 */
/**
 * Whether the directory a wildcard source searches (the path before its first wildcard) is
 * there: BuildKit copies nothing when a wildcard matches nothing in it, and fails when it is
 * missing (or .dockerignore'd, so not in the context it was sent).
 */
export async function wildcardBaseExists(
  root: string,
  rel: string,
  ignored: (rel: string) => boolean,
): Promise<boolean> {
  const base = await wildcardBase(root, rel);
  return base !== undefined && (base.rel === '' || !ignored(base.rel));
}

async function wildcardBase(root: string, rel: string): Promise<FoundEntry | undefined> {
  const segments = rel.split('/');
  const base = await resolveInRoot(
    root,
    segments.slice(0, segments.findIndex(hasWildcard)).join('/'),
  );
  return base?.stat.isDirectory() ? base : undefined;
}

async function globInRoot(
  root: string,
  rel: string,
  ignored: (rel: string) => boolean,
): Promise<FoundEntry[]> {
  const segments = rel.split('/');
  const first = segments.findIndex(hasWildcard);
  const base = await wildcardBase(root, rel);
  if (!base) return [];
  const re = globRegex(segments.slice(first).join('/'));
  const depth = segments.length - first;
  const found: FoundEntry[] = [];
  const scan = async (dir: string, level: number): Promise<void> => {
    const names = await readdir(join(base.abs, dir)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const sub = dir ? `${dir}/${name}` : name;
      const r = base.rel ? `${base.rel}/${sub}` : sub;
      if (level === depth) {
        if (re.test(sub) && !ignored(r)) {
          const f = await resolveInRoot(root, r);
          if (f) found.push(f);
        }
      } else {
        const st = await lstat(join(root, r)).catch(() => undefined);
        if (st?.isDirectory()) await scan(sub, level + 1);
      }
    }
  };
  await scan('', 1);
  return found;
}

/** Finds what one source pattern selects under root. Empty when nothing matches. */
export async function selectSource(
  root: string,
  src: string,
  ignored: (rel: string) => boolean,
  descendIgnored = false,
): Promise<SourceMatch[]> {
  const rel = cleanRel(src);
  let roots: FoundEntry[];
  if (hasWildcard(rel)) {
    roots = await globInRoot(root, rel, ignored);
  } else {
    const f = rel !== '' && ignored(rel) ? undefined : await resolveInRoot(root, rel);
    roots = f ? [f] : [];
  }
  return Promise.all(
    roots.map(async (r) => ({
      root: r,
      children: r.stat.isDirectory() ? await walkBelow(r, ignored, descendIgnored) : [],
    })),
  );
}
