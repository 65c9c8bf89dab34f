// The deterministic layer stream: sorted entries -> PAX tar -> (gzip) -> out, hashing the tar
// (diffId) and the blob (digest) on the way, in one pass with backpressure.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, type Digest } from '../digest.js';
import { TsdockError } from '../errors.js';
import { MediaType } from '../media-types.js';
import { encodeHeader, padding, trailer, type TarHeader, type TarType } from './tar-format.js';
import { createGzip } from './gzip.js';

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
  /** File content: a path to read, or the bytes. */
  source?: string | Buffer;
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
      } else links.set(e.inode, header.path);
    }
    if (header.type !== 'file') {
      yield encodeHeader(header);
      continue;
    }
    if (Buffer.isBuffer(e.source) || e.source === undefined) {
      const data = e.source ?? Buffer.alloc(0);
      header.size = data.length;
      yield encodeHeader(header);
      yield data;
      yield padding(data.length);
      continue;
    }
    yield* fileBody(header, e.source);
  }
  yield trailer();
}

/** A file's header and content, read with synchronous calls (each is short; see extract.ts). */
function* fileBody(header: TarHeader, source: string) {
  const fd = openSync(source, 'r');
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
