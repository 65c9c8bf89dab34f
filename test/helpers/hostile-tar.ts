// Builds tar archives entry by entry with tar-stream (an independent writer, so hostile names
// are written verbatim), plus a sentinel directory outside the extraction root that tests
// check is left untouched.
import tarStream from 'tar-stream';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export interface TarSpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (tar-stream writes them as a PAX header before the entry). */
  pax?: Record<string, string>;
}

/** An uncompressed (or gzipped) tar of the given entries, in order. */
export async function buildTar(specs: TarSpec[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const s of specs) {
    const type = s.type ?? 'file';
    const body = type === 'file' ? Buffer.from(s.content ?? '') : undefined;
    const header = {
      name: s.name,
      type,
      mode: s.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: s.uid ?? 0,
      gid: s.gid ?? 0,
      mtime: new Date((s.mtime ?? 1_600_000_000) * 1000),
      linkname: s.linkname,
      devmajor: s.devmajor,
      devminor: s.devminor,
      size: body?.length ?? 0,
      ...(s.pax ? { pax: s.pax } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return opts.gzip ? gzipSync(tar) : tar;
}

export function streamOf(buf: Buffer): Readable {
  return Readable.from([buf], { objectMode: false });
}

export interface Sandbox {
  /** Extraction root (empty). */
  root: string;
  /** A directory outside root holding `secret`, which must stay as it is. */
  sentinel: string;
  /** Entries in the sentinel dir (to assert nothing was added). */
  sentinelEntries(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const base = await mkdtemp(join(tmpdir(), 'tsdock-tar-'));
  const root = join(base, 'root', 'dest');
  const sentinel = join(base, 'sentinel');
  await mkdir(root, { recursive: true });
  await mkdir(sentinel);
  await writeFile(join(sentinel, 'secret'), 'untouched\n');
  return {
    root,
    sentinel,
    sentinelEntries: async () => (await readdir(sentinel)).sort(),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}
