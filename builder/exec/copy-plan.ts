// COPY/ADD with docker's directory semantics, as a list of layer entries (no rootfs needed):
// a directory source copies its contents; a file goes to DEST, or DEST/name when DEST ends in
// `/`, is an existing directory, or there are several sources. Every parent directory is in the
// layer (layer-parents.ts); the ones COPY creates, DEST included, are 0755 and owned by --chown
// (BuildKit: --chmod applies to what is copied, not to them). Owners default to 0:0 (--chown
// overrides), --chmod overrides modes; ADD archives keep their entries' owners and mtimes, the
// directories they only imply are not entries (they never overwrite an earlier archive's);
// files hard-linked within one source stay hard links. Copied directories get the build time
// as mtime, files keep theirs (BuildKit). The entries' "content identity" (paths, types, modes,
// owners, links, content digests; never mtimes) is the COPY's contribution to its cache key.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { LayerEntry } from '../../shared/tar/layer-writer.js';
import type { Stats } from 'node:fs';
import { readlinkSelected, type FoundEntry, type SourceMatch } from '../context/select.js';
import { identityOf } from '../../shared/tar/safe-tree.js';
import type { FileDigester } from './file-digests.js';
import { withParents } from './layer-parents.js';
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
  /** lstat of an absolute path in the image being built (undefined when missing). */
  stat(path: string): Promise<Stats | undefined>;
  /** The build time (seconds): mtime of the directories the copy creates or changes. */
  now: number;
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

/** A planned entry and which source (match index) wrote it. */
interface Placed {
  entry: LayerEntry;
  source: number;
}

export async function planCopy(
  matches: SourceMatch[],
  heredocs: { name: string; content: string }[],
  t: CopyTarget,
  digester: FileDigester,
): Promise<PlannedCopy> {
  // Later sources overwrite earlier ones at the same path, as copying one after another does.
  const placed = new Map<string, Placed>();
  const put = (entry: LayerEntry, source: number) => {
    placed.delete(entry.path);
    placed.set(entry.path, { entry, source });
  };
  const fileStats = new Map<string, FoundEntry>();
  const destIsDir = t.dest.endsWith('/') || t.multiple || (await t.isDir(t.dest));
  const dest = posix.resolve('/', t.dest);
  const mk = async (
    path: string,
    f: FoundEntry,
    type: LayerEntry['type'],
    source: number,
    from?: SourceMatch,
  ): Promise<LayerEntry> => {
    const archive = !!from?.archive;
    const e: LayerEntry = {
      path: path.replace(/^\/+/, ''),
      type,
      mode: t.chmod ?? f.stat.mode & 0o7777,
      uid: from?.keepOwners ? f.stat.uid : t.uid,
      gid: from?.keepOwners ? f.stat.gid : t.gid,
      // Copied directories get the build time (BuildKit); files and archive entries keep theirs.
      mtime: type === 'dir' && !archive ? t.now : Math.floor(f.stat.mtimeMs / 1000),
    };
    if (type === 'file' && f.stat.nlink > 1) e.inode = `${source}:${f.stat.dev}:${f.stat.ino}`;
    if (type === 'symlink') e.linkname = readlinkSelected(f);
    else if (type === 'file') {
      // read (digest and layer) only as selected: below its root, the same inode
      fileStats.set((e.source = f.abs), f);
      e.sourceRoot = f.root;
      e.sourceIdentity = identityOf(f.stat);
    }
    return e;
  };
  for (const [i, m] of matches.entries()) {
    const type = KIND(m.root.stat);
    if (!type) continue;
    if (type === 'dir') {
      // An archive's destination and the directories it only implies are not its entries:
      // they are made (or kept) as parents, below.
      if (!m.archive && !(await t.stat(dest)) && !placed.has(dest.slice(1)))
        put(createdDir(dest.slice(1), t), i);
      const base = m.root.rel;
      for (const c of m.children) {
        const ct = KIND(c.stat);
        if (!ct) continue;
        const sub = base ? c.rel.slice(base.length + 1) : c.rel;
        if (m.archive && ct === 'dir' && !m.archive.has(sub)) continue;
        put(await mk(posix.join(dest, sub), c, ct, i, m), i);
      }
    } else {
      const target = destIsDir ? posix.join(dest, posix.basename(m.root.rel)) : dest;
      put(await mk(target, m.root, type, i), i);
    }
  }
  for (const h of heredocs) {
    const target = destIsDir ? posix.join(dest, h.name) : dest;
    const entry: LayerEntry = {
      path: target.replace(/^\/+/, ''),
      type: 'file',
      mode: t.chmod ?? 0o644,
      uid: t.uid,
      gid: t.gid,
      mtime: 0,
      source: Buffer.from(h.content),
    };
    put(entry, -1);
  }
  touchChangedDirs(placed, t.now);
  const entries = await withParents(
    [...placed.values()].map((p) => p.entry),
    { stat: (p) => t.stat(p), now: t.now, uid: t.uid, gid: t.gid },
  );
  return { entries, ...(await contentKey(entries, digester, fileStats)) };
}

/** A directory COPY makes (its destination): 0755, the --chown owner, the build time (BuildKit). */
function createdDir(path: string, t: CopyTarget): LayerEntry {
  return { path, type: 'dir', mode: 0o755, uid: t.uid, gid: t.gid, mtime: t.now };
}

/** A directory that a later source adds entries to gets the build time, as on a real disk. */
function touchChangedDirs(placed: Map<string, Placed>, now: number): void {
  for (const [path, p] of placed) {
    const parent = placed.get(posix.dirname(path));
    if (parent && parent.source !== p.source && parent.entry.type === 'dir')
      parent.entry.mtime = now;
  }
}

async function contentKey(
  entries: LayerEntry[],
  digester: FileDigester,
  fileStats: ReadonlyMap<string, FoundEntry>,
): Promise<{ contentKey: string; files: Record<string, string> }> {
  const h = createHash('sha256');
  const files: Record<string, string> = {};
  let listed = 0;
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const firstOfInode = new Map<string, string>();
  for (const e of sorted) {
    const content = await contentOf(e, firstOfInode, digester, fileStats);
    const id = `${e.type}\0${e.mode.toString(8)}\0${e.uid}:${e.gid}\0${e.linkname ?? ''}\0${content}`;
    h.update(`${e.path}\0${id}\n`);
    if (listed++ < FILE_LIST_CAP)
      files[e.path] = createHash('sha256').update(id).digest('hex').slice(0, 16);
  }
  return { contentKey: `sha256:${h.digest('hex')}`, files };
}

/** A file's content digest; a hard link is named by the first path of its group (no inode numbers). */
async function contentOf(
  e: LayerEntry,
  firstOfInode: Map<string, string>,
  digester: FileDigester,
  fileStats: ReadonlyMap<string, FoundEntry>,
): Promise<string> {
  if (e.inode) {
    const first = firstOfInode.get(e.inode);
    if (first !== undefined) return `link:${first}`;
    firstOfInode.set(e.inode, e.path);
  }
  if (Buffer.isBuffer(e.source)) return createHash('sha256').update(e.source).digest('hex');
  if (typeof e.source === 'string') {
    const f = fileStats.get(e.source);
    return digester.digest(e.source, f?.stat, f?.root);
  }
  return '';
}
