// The deterministic layer stream: sorted entries -> PAX tar -> (gzip) -> out, hashing the tar
// (diffId) and the blob (digest) on the way, in one pass with backpressure.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, type Digest } from '../digest.js';
import { TsdockError } from '../errors.js';
import { MediaType } from '../media-types.js';
import { encodeHeader, padding, trailer, type TarHeader, type TarType } from './tar-format.js';
import { createGzip } from './gzip.js';
import { ChangedError, SafeTree, openNoFollow } from './safe-tree.js';

/** One entry to write. Paths are relative (no leading slash), `/`-separated. */
export interface LayerEntry {
  path: string;
  type: TarType;
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (default 0). */
  mtime?: number;
  /** File content: a path to read (never through a symlink), or the bytes. */
  source?: string | Buffer;
  /**
   * The tree a path `source` lies in, when someone else may change it while we read: the file
   * is then reached from this root without following any symlink (see safe-tree.ts).
   */
  sourceRoot?: string;
  /** "dev:ino" the source had when the entry was made; a different inode is not read. */
  sourceIdentity?: string;
  /** Symlink target (verbatim) or hardlink target (a path in the layer). */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Identity of the inode ("dev:ino"); later entries with the same one become hardlinks. */
  inode?: string;
}

export interface LayerWriteOptions {
  /** Default 'gzip'. */
  compression?: 'gzip' | 'none';
  /** gzip level (default 6). */
  level?: number;
  /** Clamp every mtime to at most this (seconds), as BuildKit does with SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
  /** Write every entry as owned by 0:0. */
  normalizeOwners?: boolean;
  /** Return false to leave a path (relative to the source, no leading slash) out. */
  filter?: (relPath: string) => boolean;
  /** Put everything under this directory inside the layer (e.g. "app"). */
  prefix?: string;
  /** Read and write xattrs (default true; needs the fsops helper). */
  xattrs?: boolean;
  /** A source that changed while we read it: throw ChangedError (default) or leave it out. */
  changed?: 'error' | 'skip';
  /** Called with each path left out because it changed (changed: 'skip'). */
  onSkip?: (relPath: string) => void;
}

export interface LayerResult {
  /** Digest of the blob as written (compressed when gzip). */
  digest: Digest;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Size of the blob as written. */
  size: number;
  mediaType: string;
}

/** SOURCE_DATE_EPOCH from the environment, if set and valid. */
export function sourceDateEpochFromEnv(env = process.env): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Sorts entries bytewise by path (parents come before their children). */
export function sortEntries<T extends { path: string }>(entries: T[], key = (e: T) => e.path) {
  const keyed = entries.map((e) => ({ e, k: Buffer.from(key(e), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));
  return keyed.map((x) => x.e);
}

/** Writes already-ordered entries as a layer to `out` (which is ended). */
export async function writeEntries(
  entries: Iterable<LayerEntry>,
  out: Writable,
  opts: LayerWriteOptions = {},
): Promise<LayerResult> {
  const tarHash = new DigestingStream();
  const blobHash = new DigestingStream();
  const gzip = (opts.compression ?? 'gzip') === 'gzip';
  const tar = Readable.from(generateTar(entries, opts), { objectMode: false });
  if (gzip) await pipeline(tar, tarHash, createGzip({ level: opts.level }), blobHash, out);
  else await pipeline(tar, tarHash, out);
  return {
    digest: gzip ? blobHash.digest() : tarHash.digest(),
    diffId: tarHash.digest(),
    size: gzip ? blobHash.size : tarHash.size,
    mediaType: gzip ? MediaType.OciLayerGzip : MediaType.OciLayer,
  };
}

async function* generateTar(entries: Iterable<LayerEntry>, opts: LayerWriteOptions) {
  const links = new Map<string, string>();
  const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
  const name = (p: string) => (prefix ? (p ? `${prefix}/${p}` : prefix) : p);
  // The prefix's ancestors as plain directories (0755, root), so extractors create them alike.
  const parts = prefix.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const path = parts.slice(0, i).join('/');
    const mtime = clampMtime(0, opts.sourceDateEpoch);
    yield encodeHeader({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime });
  }
  const sources = new SourceOpener();
  try {
    for (const e of entries) {
      const header: TarHeader = {
        path: name(e.path),
        type: e.type,
        mode: e.mode & 0o7777,
        uid: opts.normalizeOwners ? 0 : e.uid,
        gid: opts.normalizeOwners ? 0 : e.gid,
        size: 0,
        mtime: clampMtime(e.mtime ?? 0, opts.sourceDateEpoch),
      };
      if (!header.path) continue;
      if (e.xattrs?.size) header.xattrs = e.xattrs;
      if (e.type === 'symlink') header.linkname = e.linkname ?? '';
      if (e.type === 'hardlink') header.linkname = name(e.linkname ?? '');
      if (e.type === 'char' || e.type === 'block') {
        header.devmajor = e.devmajor ?? 0;
        header.devminor = e.devminor ?? 0;
      }
      if (e.type === 'file' && e.inode) {
        const first = links.get(e.inode);
        if (first !== undefined) {
          header.type = 'hardlink';
          header.linkname = first;
          delete header.xattrs;
        }
      }
      if (header.type !== 'file') {
        yield encodeHeader(header);
        continue;
      }
      if (Buffer.isBuffer(e.source) || e.source === undefined) {
        const data = e.source ?? Buffer.alloc(0);
        if (e.inode) links.set(e.inode, header.path);
        header.size = data.length;
        yield encodeHeader(header);
        yield data;
        yield padding(data.length);
        continue;
      }
      const fd = sources.open(e, opts);
      if (fd === undefined) continue; // changed under us, and left out as asked
      if (e.inode) links.set(e.inode, header.path);
      yield* fileBody(header, fd, e.source);
    }
  } finally {
    sources.close();
  }
  yield trailer();
}

/** Opens file sources safely, one SafeTree per source root. */
class SourceOpener {
  private readonly trees = new Map<string, SafeTree>();

  /** An fd to read e's content, or undefined when it changed and opts say to skip it. */
  open(e: LayerEntry, opts: LayerWriteOptions): number | undefined {
    const source = e.source as string;
    try {
      if (!e.sourceRoot) return openNoFollow(source, e.sourceIdentity);
      let tree = this.trees.get(e.sourceRoot);
      if (!tree) this.trees.set(e.sourceRoot, (tree = new SafeTree(e.sourceRoot)));
      return tree.openFile(relativeTo(e.sourceRoot, source), e.sourceIdentity);
    } catch (err) {
      if (!(err instanceof ChangedError) || opts.changed !== 'skip') throw err;
      opts.onSkip?.(e.path);
      return undefined;
    }
  }

  close(): void {
    for (const t of this.trees.values()) t.close();
    this.trees.clear();
  }
}

function relativeTo(root: string, abs: string): string {
  const base = root.endsWith('/') ? root : `${root}/`;
  if (!abs.startsWith(base)) {
    throw new TsdockError(`layer source "${abs}" is not under its root ${root}`);
  }
  return abs.slice(base.length);
}

/** A file's header and content from an open fd (closed here), read with synchronous calls
 * (each is short; see extract.ts). */
function* fileBody(header: TarHeader, fd: number, source: string) {
  try {
    header.size = fstatSync(fd).size;
    yield encodeHeader(header);
    let left = header.size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, 1024 * 1024));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) {
        throw new TsdockError(
          `file "${source}" shrank while it was being written into a layer`,
          'do not modify the source while building',
        );
      }
      left -= n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
    yield padding(header.size);
  } finally {
    closeSync(fd);
  }
}

function clampMtime(mtime: number, epoch: number | undefined): number {
  const t = Math.max(0, Math.floor(mtime));
  return epoch !== undefined && t > epoch ? epoch : t;
}
