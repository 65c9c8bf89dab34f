// Builds tar archives entry by entry with names, links and PAX records written verbatim (the
// header encoder of shared/tar/tar-format.ts does not judge paths), plus a sentinel directory
// outside the extraction root that tests check is left untouched.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  BLOCK,
  encodeHeader,
  padding,
  paxBlock,
  trailer,
  type TarType,
} from '../../shared/tar/tar-format.js';

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
  /** Extra PAX records, written as a PAX header before the entry. */
  pax?: Record<string, string>;
}

const TYPES: Record<NonNullable<TarSpec['type']>, TarType> = {
  file: 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/** An uncompressed (or gzipped) tar of the given entries, in order. */
export async function buildTar(specs: TarSpec[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const s of specs) {
    const type = TYPES[s.type ?? 'file'];
    const body = type === 'file' ? Buffer.from(s.content ?? '') : Buffer.alloc(0);
    const path = type === 'dir' ? s.name.replace(/\/+$/, '') : s.name;
    const header = encodeHeader({
      path,
      type,
      mode: s.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: s.uid ?? 0,
      gid: s.gid ?? 0,
      size: body.length,
      mtime: s.mtime ?? 1_600_000_000,
      linkname: s.linkname,
      devmajor: s.devmajor,
      devminor: s.devminor,
    });
    if (s.pax) {
      // one PAX header per entry: the extra records only go with names ustar holds
      if (header.length !== BLOCK) throw new Error(`${s.name}: pax records need a short name`);
      const records = Object.entries(s.pax).map(([k, v]) => [k, Buffer.from(v)] as const);
      parts.push(paxBlock(path, new Map(records)));
    }
    parts.push(header, body, padding(body.length));
  }
  parts.push(trailer());
  const tar = Buffer.concat(parts);
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
