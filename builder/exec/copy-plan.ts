// COPY/ADD with docker's directory semantics, as a list of layer entries (no rootfs needed):
// a directory source copies its contents; a file goes to DEST, or DEST/name when DEST ends in
// `/`, is an existing directory, or there are several sources; missing parents of DEST are
// created. Owners default to 0:0 (--chown overrides), --chmod overrides modes. The entries'
// "content identity" (paths, types, modes, owners, content digests; never mtimes) is the
// COPY's contribution to its cache key.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { LayerEntry } from '../../shared/tar/layer-writer.js';
import type { FoundEntry, SourceMatch } from '../context/select.js';
import type { FileDigester } from './file-digests.js';
import { FILE_LIST_CAP } from '../cache/build-cache.js';

export interface CopyTarget {
  /** Absolute destination as written (after expansion and WORKDIR resolution). */
  dest: string;
  /** Sources given (after wildcard expansion) > 1 means DEST must be a directory. */
  multiple: boolean;
  uid: number;
  gid: number;
  chmod?: number;
  /** Whether a path exists as a directory in the image being built (absolute path). */
  isDir(path: string): Promise<boolean>;
  exists(path: string): Promise<boolean>;
}

export interface PlannedCopy {
  entries: LayerEntry[];
  /** sha256 over the entries' identity: the cache key input of this COPY. */
  contentKey: string;
  /** Per-path identity (capped), to name the files that changed on a cache miss. */
  files: Record<string, string>;
}

const KIND = (st: FoundEntry['stat']): LayerEntry['type'] | undefined =>
  st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : undefined;

export async function planCopy(
  matches: SourceMatch[],
  heredocs: { name: string; content: string }[],
  t: CopyTarget,
  digester: FileDigester,
  readlink: (abs: string) => Promise<string>,
): Promise<PlannedCopy> {
  const entries: LayerEntry[] = [];
  const fileStats = new Map<string, FoundEntry['stat']>();
  const destIsDir = t.dest.endsWith('/') || t.multiple || (await t.isDir(t.dest));
  const dest = posix.resolve('/', t.dest);
  const mk = async (
    path: string,
    f: FoundEntry,
    type: LayerEntry['type'],
    keepOwners = false,
  ): Promise<LayerEntry> => {
    const e: LayerEntry = {
      path: path.replace(/^\/+/, ''),
      type,
      mode: t.chmod ?? f.stat.mode & 0o7777,
      uid: keepOwners ? f.stat.uid : t.uid,
      gid: keepOwners ? f.stat.gid : t.gid,
      mtime: Math.floor(f.stat.mtimeMs / 1000),
    };
    if (type === 'file') fileStats.set((e.source = f.abs), f.stat);
    if (type === 'symlink') e.linkname = await readlink(f.abs);
    return e;
  };
  let madeDest = false;
  for (const m of matches) {
    const type = KIND(m.root.stat);
    if (!type) continue;
    if (type === 'dir') {
      if (!madeDest && !(await t.exists(dest))) entries.push(await mk(dest, m.root, 'dir'));
      madeDest = true;
      const base = m.root.rel;
      for (const c of m.children) {
        const ct = KIND(c.stat);
        if (!ct) continue;
        const sub = base ? c.rel.slice(base.length + 1) : c.rel;
        entries.push(await mk(posix.join(dest, sub), c, ct, m.keepOwners));
      }
    } else {
      const target = destIsDir ? posix.join(dest, posix.basename(m.root.rel)) : dest;
      entries.push(await mk(target, m.root, type));
    }
  }
  for (const h of heredocs) {
    const target = destIsDir ? posix.join(dest, h.name) : dest;
    entries.push({
      path: target.replace(/^\/+/, ''),
      type: 'file',
      mode: t.chmod ?? 0o644,
      uid: t.uid,
      gid: t.gid,
      mtime: 0,
      source: Buffer.from(h.content),
    });
  }
  await addParents(entries, t);
  return { entries, ...(await contentKey(entries, digester, fileStats)) };
}

/** Missing parent directories (root-owned 0755, like `mkdir -p`). */
async function addParents(entries: LayerEntry[], t: CopyTarget): Promise<void> {
  const have = new Set(entries.map((e) => e.path));
  const parents = new Set<string>();
  for (const e of entries) {
    let p = posix.dirname(e.path);
    while (p !== '.' && p !== '' && !have.has(p) && !parents.has(p)) {
      parents.add(p);
      p = posix.dirname(p);
    }
  }
  for (const p of parents) {
    if (!(await t.exists(`/${p}`)))
      entries.push({ path: p, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
  }
}

async function contentKey(
  entries: LayerEntry[],
  digester: FileDigester,
  fileStats: ReadonlyMap<string, FoundEntry['stat']>,
): Promise<{ contentKey: string; files: Record<string, string> }> {
  const h = createHash('sha256');
  const files: Record<string, string> = {};
  let listed = 0;
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    let content = '';
    if (Buffer.isBuffer(e.source)) content = createHash('sha256').update(e.source).digest('hex');
    else if (typeof e.source === 'string')
      content = await digester.digest(e.source, fileStats.get(e.source));
    const id = `${e.type}\0${e.mode.toString(8)}\0${e.uid}:${e.gid}\0${e.linkname ?? ''}\0${content}`;
    h.update(`${e.path}\0${id}\n`);
    if (listed++ < FILE_LIST_CAP)
      files[e.path] = createHash('sha256').update(id).digest('hex').slice(0, 16);
  }
  return { contentKey: `sha256:${h.digest('hex')}`, files };
}
