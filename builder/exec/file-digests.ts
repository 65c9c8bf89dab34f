// Content digests of context files for COPY cache keys, remembered across builds by
// (path, inode, size, mtime, ctime) so a cache-hit rebuild does not re-read unchanged files
// (BuildKit keeps a similar content-hash cache). The table is a JSON file in the build cache.
// A file is read only if it is still the inode its stat names, reached below `root` without
// following a symlink (shared/tar/safe-tree.ts): a context that swaps a directory or the file for
// a link between selection and digest gets a ChangedError, not a digest of a host file.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, type Stats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { SafeTree, identityOf, openNoFollow } from '../../shared/tar/safe-tree.js';

export interface FileDigester {
  /**
   * sha256 hex of the file's content; `known` is its lstat when the caller already has it,
   * `root` the tree it was selected in (no symlink below it is followed to read it).
   */
  digest(abs: string, known?: Stats, root?: string): Promise<string>;
  /** Persists what was learnt (no-op when nothing changed) and closes the trees it read. */
  save(): Promise<void>;
}

type Row = [stamp: string, digest: string];

/**
 * `transientDir`: files under it (COPY --from views, ADD downloads: temp dirs of one build) are
 * remembered for this build only; saved, their rows would pile up in the table at every build.
 */
export async function openFileDigester(
  tablePath?: string,
  transientDir?: string,
): Promise<FileDigester> {
  let table = new Map<string, Row>();
  if (tablePath) {
    const text = await readFile(tablePath, 'utf8').catch(() => undefined);
    if (text) {
      try {
        table = new Map(Object.entries(JSON.parse(text) as Record<string, Row>));
      } catch {
        table = new Map();
      }
    }
  }
  let dirty = false;
  // one tree per root: its directory fds are reused from file to file (a walk is sorted)
  const trees = new Map<string, SafeTree>();
  const openIn = (root: string, abs: string, id: string): number => {
    let tree = trees.get(root);
    if (!tree) trees.set(root, (tree = new SafeTree(root)));
    return tree.openFile(relative(root, abs), id);
  };
  return {
    async digest(abs, known, root) {
      const st = known ?? lstatSync(abs); // sync: one cheap call, no thread-pool round trip
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      const row = table.get(abs);
      if (row && row[0] === stamp) return row[1];
      const id = identityOf(st);
      const fd = root ? openIn(root, abs, id) : openNoFollow(abs, id);
      const h = createHash('sha256');
      for await (const chunk of createReadStream(abs, { fd })) h.update(chunk as Buffer);
      const d = h.digest('hex');
      table.set(abs, [stamp, d]);
      dirty = true;
      return d;
    },
    async save() {
      for (const tree of trees.values()) tree.close();
      trees.clear();
      if (!tablePath || !dirty) return;
      await mkdir(dirname(tablePath), { recursive: true });
      const tmp = `${tablePath}.${process.pid}.tmp`;
      const prefix = transientDir && `${transientDir.replace(/\/+$/, '')}/`;
      const kept = prefix ? [...table].filter(([abs]) => !abs.startsWith(prefix)) : table;
      await writeFile(tmp, JSON.stringify(Object.fromEntries(kept)));
      await rename(tmp, tablePath);
      dirty = false;
    },
  };
}
