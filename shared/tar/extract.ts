// Hardened layer extraction (gzip or plain, auto-detected) into a directory, computing the
// diffId in the same pass. Every path is contained (see safe-path.ts); files are created with
// O_EXCL|O_NOFOLLOW after whatever was there is removed, so nothing is written through a
// symlink; hardlinks must point inside the root; devices only when allowed (root). Modes
// (setuid included), owners (when sameOwner), mtimes, symlink targets and portable xattrs are
// kept. Whiteouts are applied (flattening) or turned into overlayfs whiteouts (per-layer dirs).
// extractLayer leaves a partial tree on error; extractLayerAtomic extracts beside the target and
// renames into place, so a layer directory either is complete or does not exist.
// Unpacked size and entry count are limited (unpack-limits.ts), and runs of zeros in file bodies
// are written as holes (sparse files), so a gzip bomb of zeros costs neither time nor disk.
import { inRootlessNamespace } from '../rootless-env.js';
import {
  constants as C,
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { InvalidInputError, TsdockError } from '../errors.js';
import type { TarHeader } from './tar-format.js';
import { readTar } from './tar-reader.js';
import { decompress } from './decompress.js';
import { RootResolver, cleanPath, splitParent } from './safe-path.js';
import { FsOps, FsOpsError, Errno } from './fsops.js';
import { classifyWhiteout, isPortableXattr } from './whiteout.js';
import { UnpackMeter, unpackLimits, type ImageBudget, type UnpackLimits } from './unpack-limits.js';

export interface ExtractOptions {
  /** 'apply' (default) deletes what whiteouts name; 'overlay' writes overlayfs whiteouts. */
  whiteouts?: 'overlay' | 'apply';
  /** Give files the archive's owners (default: when running as root). */
  sameOwner?: boolean;
  /** Create device nodes (default: when running as root); otherwise they are skipped. */
  allowDevices?: boolean;
  onEntry?: (path: string) => void;
  /** Size and entry limits (default: unpackLimits(), from the environment). */
  limits?: UnpackLimits;
  /** Shared by the layers of one image, for the per-image limit. */
  imageBudget?: ImageBudget;
  /** How errors name this layer (e.g. "layer sha256:abc..."). */
  label?: string;
}

export interface ExtractResult {
  diffId: Digest;
  entries: number;
}

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** Extracts a layer blob into destDir (created if missing). */
export async function extractLayer(
  source: Readable,
  destDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  await mkdir(destDir, { recursive: true });
  const x = new Extractor(destDir, opts);
  const hash = createHash('sha256');
  const meter = new UnpackMeter(opts.limits ?? unpackLimits(), opts.imageBudget, opts.label);
  let entries = 0;
  try {
    for await (const { header, body } of readTar(decompress(source, hash))) {
      entries++;
      meter.add(header.type === 'file' ? header.size : 0);
      await x.entry(header, body);
    }
    x.finish();
  } catch (err) {
    source.destroy(); // release the blob's file handle now, not at garbage collection
    throw err;
  } finally {
    await x.close();
  }
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, entries };
}

/**
 * Extracts into a temporary sibling of finalDir, then renames it into place. If another process
 * completed finalDir first, its copy is kept and ours discarded. finalDir must not exist yet.
 */
export async function extractLayerAtomic(
  source: Readable,
  finalDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const tmp = `${finalDir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const res = await extractLayer(source, tmp, opts);
    await rename(tmp, finalDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    return res;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

class Extractor {
  private readonly r: RootResolver;
  private readonly isRoot = process.getuid?.() === 0;
  private readonly sameOwner: boolean;
  private readonly allowDevices: boolean;
  private readonly mode: 'overlay' | 'apply';
  /** Real paths this layer created (whiteouts only hide what lower layers had). */
  private readonly created = new Set<string>();
  private readonly dirMeta = new Map<string, DirMeta>();
  private ops: FsOps | undefined;

  constructor(
    root: string,
    private readonly opts: ExtractOptions,
  ) {
    this.r = new RootResolver(root);
    // Into an empty root nothing can pre-exist: skips an lstat per entry.
    if (readdirSync(root).length === 0) this.r.fresh.add('');
    this.sameOwner = opts.sameOwner ?? this.isRoot;
    // root of a rootless user namespace may not make device nodes (whiteouts excepted)
    this.allowDevices = opts.allowDevices ?? (this.isRoot && !inRootlessNamespace());
    this.mode = opts.whiteouts ?? 'apply';
  }

  // File-system calls are synchronous on purpose: each takes microseconds, while an async call
  // costs a thread-pool round trip, which made extraction of many small files ~5x slower.
  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const rel = cleanPath(h.path);
    this.opts.onEntry?.(rel);
    try {
      await this.dispatch(rel, h, body);
    } catch (err) {
      if (err instanceof TsdockError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new TsdockError(`extracting layer entry "${h.path}": ${msg}`, undefined, undefined, {
        cause: err,
      });
    }
  }

  private async dispatch(rel: string, h: TarHeader, body: AsyncIterable<Buffer>) {
    if (rel === '') {
      if (h.type === 'dir') this.dirMeta.set('', meta(h));
      return;
    }
    const wh = classifyWhiteout(rel);
    if (wh.kind === 'opaque') return this.opaque(wh.dir);
    if (wh.kind === 'whiteout') return this.whiteout(wh.dir, splitParent(wh.target)[1], h.path);
    const [dir, name] = splitParent(rel);
    const parent = this.r.resolveDir(dir, true, h.path)!;
    const target = parent ? `${parent}/${name}` : name;
    if (h.type === 'dir') return this.dir(target, parent, h);
    if (h.type === 'hardlink') return this.hardlink(target, parent, h);
    if ((h.type === 'char' || h.type === 'block') && !this.allowDevices) return;
    this.clear(target, parent);
    this.created.add(target);
    const abs = this.r.abs(target);
    if (h.type === 'file') return this.file(target, h, body);
    if (h.type === 'symlink') {
      symlinkSync(h.linkname ?? '', abs);
      if (this.sameOwner) this.chown(() => lchownSync(abs, h.uid, h.gid), h);
      lutimesSync(abs, h.mtime, h.mtime);
      return;
    }
    const kind = h.type === 'fifo' ? 'p' : h.type === 'char' ? 'c' : 'b';
    await this.fsops().mknod(target, kind, h.devmajor ?? 0, h.devminor ?? 0, h.mode);
    await this.finishNode(target, h);
  }

  /** Removes what is at target, unless keepDir and it is a directory (then returns true). */
  private clear(target: string, parent: string, keepDir = false): boolean {
    // In a directory this extraction made, only what it made can exist.
    const made = this.created.has(target) || this.r.fresh.has(target);
    if (this.r.fresh.has(parent) && !made) return false;
    const abs = this.r.abs(target);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      this.r.forget(target);
      for (const k of this.dirMeta.keys()) {
        if (k === target || k.startsWith(`${target}/`)) this.dirMeta.delete(k);
      }
      rmSync(abs, { recursive: true, force: true });
    } else unlinkSync(abs);
    return false;
  }

  private async dir(target: string, parent: string, h: TarHeader): Promise<void> {
    if (!this.clear(target, parent, true)) {
      mkdirSync(this.r.abs(target), { mode: 0o700 });
      this.r.fresh.add(target);
    }
    this.r.markDir(target);
    this.created.add(target);
    this.dirMeta.set(target, meta(h));
    await this.xattrs(target, h);
  }

  private async file(target: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const flags = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
    const fd = openSync(this.r.abs(target), flags, 0o600);
    try {
      await writeBody(fd, body);
      if (this.sameOwner) this.chown(() => fchownSync(fd, h.uid, h.gid), h);
      fchmodSync(fd, h.mode); // after chown, which clears setuid/setgid
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
    await this.xattrs(target, h);
  }

  private hardlink(target: string, parent: string, h: TarHeader): void {
    const linkRel = cleanPath(h.linkname ?? '');
    const [ldir, lname] = splitParent(linkRel);
    const lparent = linkRel ? this.r.resolveDir(ldir, false, h.path) : undefined;
    const source = lparent === undefined ? undefined : lparent ? `${lparent}/${lname}` : lname;
    const st = source ? lstatSync(this.r.abs(source), { throwIfNoEntry: false }) : undefined;
    if (!source || !st || st.isDirectory()) {
      throw new InvalidInputError(
        `layer entry "${h.path}": hardlink target "${h.linkname}" is not a file in this layer; refused`,
        'hardlinks must point to a file inside the root',
      );
    }
    if (source === target) return;
    this.clear(target, parent);
    this.created.add(target);
    linkSync(this.r.abs(source), this.r.abs(target));
  }

  private async finishNode(target: string, h: TarHeader): Promise<void> {
    const abs = this.r.abs(target);
    if (this.sameOwner) this.chown(() => lchownSync(abs, h.uid, h.gid), h);
    // mknod set the exact mode; chown may have cleared setuid/setgid, so set it again.
    if (this.sameOwner && h.mode & 0o6000) chmodSync(abs, h.mode);
    lutimesSync(abs, h.mtime, h.mtime);
    await this.xattrs(target, h);
  }

  private async xattrs(target: string, h: TarHeader): Promise<void> {
    for (const [name, value] of h.xattrs ?? []) {
      if (!isPortableXattr(name)) continue;
      try {
        await this.fsops().setXattr(target, name, value);
      } catch (err) {
        const errno = err instanceof FsOpsError ? err.errno : -1;
        if (errno === Errno.ENOTSUP || (errno === Errno.EPERM && !this.isRoot)) continue;
        throw err;
      }
    }
  }

  private async opaque(dir: string): Promise<void> {
    const real = this.r.resolveDir(dir, true, dir)!;
    if (this.mode === 'overlay') {
      // in a user namespace overlayfs reads user.overlay.* (its userxattr option)
      const xattr = inRootlessNamespace() ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
      await this.fsops().setXattr(real, xattr, Buffer.from('y'));
      return;
    }
    for (const name of readdirSync(this.r.abs(real))) {
      const child = real ? `${real}/${name}` : name;
      if (!this.created.has(child)) this.clear(child, real);
    }
  }

  private async whiteout(dir: string, name: string, raw: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') {
      throw new InvalidInputError(`layer entry "${raw}": invalid whiteout; refused`);
    }
    const real = this.r.resolveDir(dir, this.mode === 'overlay', raw);
    if (real === undefined) return; // nothing below to hide
    const target = real ? `${real}/${name}` : name;
    if (this.created.has(target)) return; // whiteouts hide lower layers only
    this.clear(target, real);
    if (this.mode === 'overlay') {
      await this.fsops()
        .mknod(target, 'c', 0, 0, 0)
        .catch((err: unknown) => {
          if (!(err instanceof FsOpsError) || err.errno !== Errno.EPERM) throw err;
          throw new TsdockError(
            `layer entry "${raw}": overlay whiteouts (device 0/0) need root`,
            "run as root, or extract with whiteouts: 'apply'",
          );
        });
      this.created.add(target);
    }
  }

  /** A chown; an owner the rootless user namespace does not map is one clear error. */
  private chown(op: () => void, owner: { uid: number; gid: number }): void {
    try {
      op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !inRootlessNamespace()) throw err;
      throw new TsdockError(
        `layer file owned by ${owner.uid}:${owner.gid}, which the rootless user namespace does not map`,
        'give this user ranges in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 ' +
          '--add-subgids 100000-165535 USER), then kill its tsdock-pause process',
      );
    }
  }

  /** Applies directory metadata last (children change a dir's mtime), deepest first. */
  finish(): void {
    const dirs = [...this.dirMeta.keys()].sort((a, b) => b.length - a.length);
    for (const d of dirs) {
      const m = this.dirMeta.get(d)!;
      const fd = openSync(this.r.abs(d), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        if (this.sameOwner) this.chown(() => fchownSync(fd, m.uid, m.gid), m);
        fchmodSync(fd, m.mode);
        futimesSync(fd, m.mtime, m.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }

  async close(): Promise<void> {
    await this.ops?.close();
  }

  private fsops(): FsOps {
    this.ops ??= new FsOps(this.r.root);
    return this.ops;
  }
}

/**
 * Writes a body in batches of about 1 MiB (gunzip yields 64 KiB pieces) into a new, empty file,
 * leaving every all-zero 4 KiB block (file offsets) as a hole; the size is set at the end.
 */
async function writeBody(fd: number, body: AsyncIterable<Buffer>): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  let pos = 0;
  const flush = () => {
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    batch = [];
    size = 0;
    pos = writeSparse(fd, data, pos);
  };
  for await (const chunk of body) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= 1024 * 1024) flush();
  }
  if (size > 0) flush();
  if (fstatSync(fd).size !== pos) ftruncateSync(fd, pos); // a trailing hole
}

const BLOCK = 4096;
const ZEROS = Buffer.alloc(BLOCK);

/** Writes data at file offset pos, skipping all-zero blocks; returns the offset after it. */
function writeSparse(fd: number, data: Buffer, pos: number): number {
  let runStart = -1; // start (in data) of pending non-zero bytes
  let i = 0;
  const writeRun = (end: number) => {
    let off = runStart;
    while (off < end) off += writeSync(fd, data, off, end - off, pos + off);
    runStart = -1;
  };
  while (i < data.length) {
    // up to the next block boundary of the file, so holes are whole file-system blocks
    const end = Math.min(data.length, i + BLOCK - ((pos + i) % BLOCK));
    const zero = end - i === BLOCK ? data.subarray(i, end).equals(ZEROS) : false;
    if (zero && runStart >= 0) writeRun(i);
    else if (!zero && runStart < 0) runStart = i;
    i = end;
  }
  if (runStart >= 0) writeRun(data.length);
  return pos + data.length;
}

function meta(h: TarHeader): DirMeta {
  return { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime };
}
