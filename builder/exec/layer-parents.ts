// Parent directory entries for a layer made of explicit entries (COPY, ADD, WORKDIR), as
// BuildKit's differ writes them: every ancestor of an added path is in the layer, so applying
// the layer (tsrun, docker, umoci) never resets an existing directory's owner or mode.
// An ancestor that exists in the image keeps its real owner and mode (and its mtime, unless it
// directly gains an entry: then the build time, as the kernel would set it); a missing one is
// created (0755, root unless an owner is given, the build time). An ancestor that exists but is
// not a directory (a symlink such as /var/run) is left alone: a dir entry would replace it.
import { posix } from 'node:path';
import type { Stats } from 'node:fs';
import type { LayerEntry } from '../../shared/tar/layer-writer.js';

export interface ParentOptions {
  /** lstat of an absolute path in the image being built (undefined when missing). */
  stat(path: string): Promise<Stats | undefined>;
  /** The build time (seconds): mtime of created and modified directories. */
  now: number;
  /** Owner of directories created here (default root). */
  uid?: number;
  gid?: number;
}

/** The entries plus one entry for each ancestor directory not already among them. */
export async function withParents(entries: LayerEntry[], o: ParentOptions): Promise<LayerEntry[]> {
  const inLayer = new Set(entries.map((e) => e.path));
  const directParents = new Set(entries.map((e) => posix.dirname(e.path)));
  const ancestors = new Set<string>();
  for (const e of entries) {
    for (let p = posix.dirname(e.path); p !== '.' && p !== '' && p !== '/'; p = posix.dirname(p)) {
      if (inLayer.has(p) || ancestors.has(p)) break;
      ancestors.add(p);
    }
  }
  const found = new Map<string, Stats | undefined>();
  for (const p of ancestors) found.set(p, await o.stat(`/${p}`));
  // A directory gains an entry when one is added in it, or a missing parent is created in it.
  for (const [p, st] of found) if (!st) directParents.add(posix.dirname(p));
  const added: LayerEntry[] = [];
  for (const [p, st] of found) {
    if (st && !st.isDirectory()) continue;
    added.push(
      st
        ? {
            path: p,
            type: 'dir',
            mode: st.mode & 0o7777,
            uid: st.uid,
            gid: st.gid,
            mtime: directParents.has(p) ? o.now : Math.floor(st.mtimeMs / 1000),
          }
        : { path: p, type: 'dir', mode: 0o755, uid: o.uid ?? 0, gid: o.gid ?? 0, mtime: o.now },
    );
  }
  return [...entries, ...added];
}
