// Overlayfs upper directory -> OCI layer entries. Whiteout char devices (0/0) and xattr
// whiteouts become `.wh.<name>`, opaque directories get `.wh..wh..opq` right after their own
// entry, overlay-private xattrs are dropped, and (given the lower dirs) false copy-ups, files
// whose content and metadata equal what the layers below already have, are left out.
// The upper must come from a mount with redirect_dir=off and metacopy=off (the runner's).
import { lstat, readlink } from 'node:fs/promises';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import {
  OPAQUE_MARKER,
  OVERLAY_OPAQUE_XATTRS,
  OVERLAY_WHITEOUT_XATTRS,
  isPortableXattr,
  whiteoutPath,
} from './whiteout.js';
import { FsOps } from './fsops.js';
import { ChangedError, openBeneath } from './safe-tree.js';
import type { LayerEntry } from './tar-writer.js';
import type { WalkedEntry } from './dir-walk.js';

/** Converts walked upper-dir entries (with allXattrs) into ordered OCI entries. */
export async function overlayEntries(
  upper: WalkedEntry[],
  lowerDirs: string[] | undefined,
): Promise<{ entries: LayerEntry[]; sortKey: (e: LayerEntry) => string }> {
  const out: LayerEntry[] = [];
  const keys = new Map<LayerEntry, string>();
  for (const e of upper) {
    const xa = e.allXattrs ?? new Map<string, Buffer>();
    for (const name of xa.keys()) {
      if (/^(trusted|user)\.overlay\.(redirect|metacopy)$/.test(name)) {
        throw new TsdockError(
          `overlay upper entry "${e.path}" has ${name}`,
          'mount the overlay with redirect_dir=off,metacopy=off to export layers',
        );
      }
    }
    if (isWhiteout(e, xa)) {
      out.push({ path: whiteoutPath(e.path), type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: 0 });
      continue;
    }
    const kept = new Map([...xa].filter(([k]) => isPortableXattr(k)));
    const entry: LayerEntry = { ...stripWalk(e) };
    if (kept.size) entry.xattrs = kept;
    else delete entry.xattrs;
    if (e.type === 'dir' && OVERLAY_OPAQUE_XATTRS.some((k) => xa.get(k)?.toString() === 'y')) {
      const marker: LayerEntry = {
        path: `${e.path}/${OPAQUE_MARKER}`,
        type: 'file',
        mode: 0o600,
        uid: 0,
        gid: 0,
        mtime: 0,
      };
      keys.set(marker, `${e.path}/\u0000`); // right after the dir, before its children
      out.push(marker);
    } else if (lowerDirs?.length && e.type !== 'dir' && (await isFalseCopyUp(e, kept, lowerDirs))) {
      continue;
    }
    out.push(entry);
  }
  return { entries: out, sortKey: (e) => keys.get(e) ?? e.path };
}

function isWhiteout(e: WalkedEntry, xa: Map<string, Buffer>): boolean {
  if (e.type === 'char' && e.stat.rdev === 0n) return true;
  return OVERLAY_WHITEOUT_XATTRS.some((k) => xa.has(k));
}

function stripWalk(e: WalkedEntry): LayerEntry {
  const { abs: _abs, stat: _stat, allXattrs: _x, ...rest } = e;
  return rest;
}

/** Whether the topmost lower copy of e equals it in type, metadata, xattrs and content. */
async function isFalseCopyUp(
  e: WalkedEntry,
  xattrs: Map<string, Buffer>,
  lowerDirs: string[],
): Promise<boolean> {
  for (const lower of lowerDirs) {
    const abs = join(lower, e.path);
    const st = await lstat(abs, { bigint: true }).catch(() => undefined);
    if (!st) continue;
    const s = e.stat;
    if (st.mode !== s.mode || st.uid !== s.uid || st.gid !== s.gid) return false;
    if (st.size !== s.size || st.mtimeNs !== s.mtimeNs || st.rdev !== s.rdev) return false;
    if (st.isSymbolicLink() && (await readlink(abs)) !== e.linkname) return false;
    if (!(await sameXattrs(lower, e.path, xattrs))) return false;
    return st.isFile() ? sameContent(abs, e) : true;
  }
  return false;
}

async function sameXattrs(lower: string, rel: string, want: Map<string, Buffer>) {
  const ops = new FsOps(lower);
  try {
    const have = new Map([...(await ops.listXattrs(rel))].filter(([k]) => isPortableXattr(k)));
    if (have.size !== want.size) return false;
    for (const [k, v] of have) if (!want.get(k)?.equals(v)) return false;
    return true;
  } finally {
    await ops.close();
  }
}

/** Whether lower file `lower` has the content of walked upper file e, which is read safely
 * (below its root, never through a symlink, only if still the inode walked: see safe-tree). */
function sameContent(lower: string, e: WalkedEntry): boolean {
  const fa = openSync(lower, 'r');
  try {
    let fb: number;
    try {
      fb = openBeneath(e.sourceRoot!, e.path, e.sourceIdentity);
    } catch (err) {
      if (err instanceof ChangedError) return false; // the writer decides what to do with it
      throw err;
    }
    try {
      const ba = Buffer.alloc(256 * 1024);
      const bb = Buffer.alloc(256 * 1024);
      while (true) {
        const ra = readSync(fa, ba, 0, ba.length, null);
        const rb = readSync(fb, bb, 0, bb.length, null);
        if (ra !== rb) return false;
        if (ra === 0) return true;
        if (!ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}
