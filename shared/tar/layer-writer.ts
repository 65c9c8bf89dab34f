// Deterministic OCI layer writers: from a directory, from an overlayfs upper directory (the
// builder's RUN and tscommit), or from an explicit entry list (the builder's COPY/ADD).
// Output: PAX tar, entries sorted bytewise by path (parents first), numeric owners only, mtimes
// clamped to sourceDateEpoch when given, hardlinks by inode, xattrs as SCHILY.xattr.*; gzip
// (block-parallel) by default. The same tree gives the same digest, on any machine.
import type { Writable } from 'node:stream';
import { lstat } from 'node:fs/promises';
import { walkDir, type WalkedEntry } from './dir-walk.js';
import { overlayEntries } from './overlay-diff.js';
import { isPortableXattr } from './whiteout.js';
import {
  sortEntries,
  writeEntries,
  type LayerEntry,
  type LayerResult,
  type LayerWriteOptions,
} from './tar-writer.js';

export type { LayerEntry, LayerResult, LayerWriteOptions } from './tar-writer.js';
export { sourceDateEpochFromEnv } from './tar-writer.js';

export interface OverlayWriteOptions extends LayerWriteOptions {
  /** The mount's lower dirs, topmost first: lets unchanged copied-up files be left out. */
  lowerDirs?: string[];
}

/** Writes everything under `dir` (not `dir` itself, unless `prefix` names it) as a layer. */
export async function writeLayerFromDir(
  dir: string,
  out: Writable,
  opts: LayerWriteOptions = {},
): Promise<LayerResult> {
  const walked = await walkDir(dir, { ...walkOptions(opts), xattrs: opts.xattrs });
  const entries: LayerEntry[] = walked.map(portable);
  if (opts.prefix) {
    // The prefix directory itself carries the source directory's metadata.
    const st = await lstat(dir);
    entries.push({
      path: '',
      type: 'dir',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    });
  }
  return writeEntries(sortEntries(entries), out, opts);
}

/** Converts an overlayfs upper directory into an OCI layer (whiteouts, opaque dirs). */
export async function writeLayerFromOverlayUpper(
  upperDir: string,
  out: Writable,
  opts: OverlayWriteOptions = {},
): Promise<LayerResult> {
  const walked = await walkDir(upperDir, { ...walkOptions(opts), xattrs: true });
  const { entries, sortKey } = await overlayEntries(walked, opts.lowerDirs);
  return writeEntries(sortEntries(entries, sortKey), out, opts);
}

/** Writes explicit entries (sorted here; parents are not added) as a layer. */
export async function writeLayerFromEntries(
  entries: LayerEntry[],
  out: Writable,
  opts: LayerWriteOptions = {},
): Promise<LayerResult> {
  const norm = entries.map((e) => ({ ...e, path: e.path.replace(/^\/+|\/+$/g, '') }));
  const kept = opts.filter ? norm.filter((e) => opts.filter!(e.path)) : norm;
  return writeEntries(sortEntries(kept), out, opts);
}

function walkOptions(opts: LayerWriteOptions) {
  return { filter: opts.filter, changed: opts.changed, onSkip: opts.onSkip };
}

function portable(e: WalkedEntry): LayerEntry {
  const { abs: _a, stat: _s, allXattrs, ...rest } = e;
  const kept = allXattrs && new Map([...allXattrs].filter(([k]) => isPortableXattr(k)));
  return kept?.size ? { ...rest, xattrs: kept } : rest;
}
