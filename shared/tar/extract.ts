// Hardened layer extraction (gzip or plain, auto-detected) into a directory, computing the
// diffId in the same pass. Every path is contained (see safe-path.ts); files are created with
// O_EXCL|O_NOFOLLOW after whatever was there is removed, so nothing is written through a
// symlink; hardlinks must point inside the root; devices only when allowed (root). Modes
// (setuid included), owners (when sameOwner), mtimes, symlink targets and portable xattrs are
// kept. Whiteouts are applied (flattening) or turned into overlayfs whiteouts (per-layer dirs).
// extractLayer leaves a partial tree on error; extractLayerAtomic extracts beside the target and
// renames into place, so a layer directory either is complete or does not exist.
import { constants as C } from 'node:fs';
import {
  type FileHandle,
  chmod,
  link,
  lstat,
  lutimes,
  lchown,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
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

export interface ExtractOptions {
  /** 'apply' (default) deletes what whiteouts name; 'overlay' writes overlayfs whiteouts. */
  whiteouts?: 'overlay' | 'apply';
  /** Give files the archive's owners (default: when running as root). */
  sameOwner?: boolean;
  /** Create device nodes (default: when running as root); otherwise they are skipped. */
  allowDevices?: boolean;
  onEntry?: (path: string) => void;
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
  let entries = 0;
  try {
    for await (const { header, body } of readTar(decompress(source, hash))) {
      entries++;
      await x.entry(header, body);
    }
    await x.finish();
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
  /** Real paths created by this layer (whiteouts only hide what lower layers had). */
  private readonly created = new Set<string>();
  private readonly dirMeta = new Map<string, DirMeta>();
  private ops: FsOps | undefined;

  constructor(
    root: string,
    private readonly opts: ExtractOptions,
  ) {
    this.r = new RootResolver(root);
    this.sameOwner = opts.sameOwner ?? this.isRoot;
    this.allowDevices = opts.allowDevices ?? this.isRoot;
    this.mode = opts.whiteouts ?? 'apply';
  }

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
    const parent = (await this.r.resolveDir(dir, true, h.path))!;
    const target = parent ? `${parent}/${name}` : name;
    if (h.type === 'dir') return this.dir(target, h);
    if (h.type === 'hardlink') return this.hardlink(target, h);
    if ((h.type === 'char' || h.type === 'block') && !this.allowDevices) return;
    await this.clear(target);
    this.created.add(target);
    const abs = this.r.abs(target);
    if (h.type === 'file') return this.file(target, h, body);
    if (h.type === 'symlink') {
      await symlink(h.linkname ?? '', abs);
      if (this.sameOwner) await lchown(abs, h.uid, h.gid);
      await lutimes(abs, h.mtime, h.mtime);
      return;
    }
    const kind = h.type === 'fifo' ? 'p' : h.type === 'char' ? 'c' : 'b';
    await this.fsops().mknod(target, kind, h.devmajor ?? 0, h.devminor ?? 0, h.mode);
    await this.finishNode(target, h);
  }

  /** Removes what is at target unless both it and the new entry are directories. */
  private async clear(target: string, keepDir = false): Promise<boolean> {
    const st = await lstat(this.r.abs(target)).catch(() => undefined);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      this.r.forget(target);
      for (const k of this.dirMeta.keys()) {
        if (k === target || k.startsWith(`${target}/`)) this.dirMeta.delete(k);
      }
      await rm(this.r.abs(target), { recursive: true, force: true });
    } else await unlink(this.r.abs(target));
    return false;
  }

  private async dir(target: string, h: TarHeader): Promise<void> {
    if (!(await this.clear(target, true))) await mkdir(this.r.abs(target), { mode: 0o700 });
    this.r.markDir(target);
    this.created.add(target);
    this.dirMeta.set(target, meta(h));
    await this.xattrs(target, h);
  }

  private async file(target: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const abs = this.r.abs(target);
    const flags = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
    const fh = await open(abs, flags, 0o600);
    try {
      await writeBody(fh, body);
      if (this.sameOwner) await fh.chown(h.uid, h.gid);
      await fh.chmod(h.mode); // after chown, which clears setuid/setgid
      await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
    await this.xattrs(target, h);
  }

  private async hardlink(target: string, h: TarHeader): Promise<void> {
    const linkRel = cleanPath(h.linkname ?? '');
    const [ldir, lname] = splitParent(linkRel);
    const lparent = linkRel ? await this.r.resolveDir(ldir, false, h.path) : undefined;
    const source = lparent === undefined ? undefined : lparent ? `${lparent}/${lname}` : lname;
    const st = source && (await lstat(this.r.abs(source)).catch(() => undefined));
    if (!source || !st || st.isDirectory()) {
      throw new InvalidInputError(
        `layer entry "${h.path}": hardlink target "${h.linkname}" is not a file in this layer; refused`,
        'hardlinks must point to a file inside the root',
      );
    }
    if (source === target) return;
    await this.clear(target);
    this.created.add(target);
    await link(this.r.abs(source), this.r.abs(target));
  }

  private async finishNode(target: string, h: TarHeader): Promise<void> {
    const abs = this.r.abs(target);
    if (this.sameOwner) await lchown(abs, h.uid, h.gid);
    // mknod set the exact mode; chown may have cleared setuid/setgid, so set it again.
    if (this.sameOwner && h.mode & 0o6000) await chmod(abs, h.mode);
    await lutimes(abs, h.mtime, h.mtime);
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
    const real = (await this.r.resolveDir(dir, true, dir))!;
    if (this.mode === 'overlay') {
      await this.fsops().setXattr(real, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    for (const name of await readdir(this.r.abs(real))) {
      const child = real ? `${real}/${name}` : name;
      if (!this.created.has(child)) await this.clear(child);
    }
  }

  private async whiteout(dir: string, name: string, raw: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') {
      throw new InvalidInputError(`layer entry "${raw}": invalid whiteout; refused`);
    }
    const real = await this.r.resolveDir(dir, this.mode === 'overlay', raw);
    if (real === undefined) return; // nothing below to hide
    const target = real ? `${real}/${name}` : name;
    if (this.created.has(target)) return; // whiteouts hide lower layers only
    await this.clear(target);
    if (this.mode === 'overlay') await this.fsops().mknod(target, 'c', 0, 0, 0);
  }

  /** Applies directory metadata last (children change a dir's mtime), deepest first. */
  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.keys()].sort((a, b) => b.length - a.length);
    for (const d of dirs) {
      const m = this.dirMeta.get(d)!;
      const fh = await open(this.r.abs(d), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        if (this.sameOwner) await fh.chown(m.uid, m.gid);
        await fh.chmod(m.mode);
        await fh.utimes(m.mtime, m.mtime);
      } finally {
        await fh.close();
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

/** Writes a body in batches of about 1 MiB (gunzip yields 64 KiB pieces). */
async function writeBody(fh: FileHandle, body: AsyncIterable<Buffer>): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    let data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    batch = [];
    size = 0;
    while (data.length > 0) {
      const { bytesWritten } = await fh.write(data);
      data = data.subarray(bytesWritten);
    }
  };
  for await (const chunk of body) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= 1024 * 1024) await flush();
  }
  if (size > 0) await flush();
}

function meta(h: TarHeader): DirMeta {
  return { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime };
}
