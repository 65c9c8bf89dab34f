// Streaming tar reader: turns a byte stream into entries (ustar, GNU long names, PAX), applying
// PAX overrides, bounding metadata sizes, and draining everything after the end marker so a
// caller hashing the stream sees all of it. Bodies must be read (or are skipped) in order.
import {
  BLOCK,
  MAX_META_SIZE,
  badArchive,
  decodeHeader,
  parsePax,
  type RawHeader,
  type TarHeader,
  type TarType,
} from './tar-format.js';

export interface TarEntry {
  header: TarHeader;
  /** The entry's content; read it before asking for the next entry (or it is skipped). */
  body: AsyncIterable<Buffer>;
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Pull-based byte reader over an async iterable of chunks. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }
  /** Exactly n bytes, or undefined if the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) if (!(await this.fill())) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Yields up to n bytes as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw badArchive('truncated entry');
      const take = Math.min(n, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      n -= take;
      yield out;
    }
  }
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }
}

/** Reads entries from an uncompressed tar stream. */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const src = new ByteSource(source);
  let pax = new Map<string, Buffer>();
  let globalPax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  while (true) {
    const block = await src.read(BLOCK);
    if (!block) throw badArchive('truncated archive (no end-of-archive marker)');
    const raw = decodeHeader(block);
    if (!raw) break;
    if ('xgLK'.includes(raw.typeflag)) {
      const padded = Math.ceil(raw.size / BLOCK) * BLOCK;
      if (raw.size > MAX_META_SIZE) {
        throw badArchive(`extended header of ${raw.size} bytes exceeds the 1 MiB limit`);
      }
      const data = await src.read(padded);
      if (!data) throw badArchive('truncated extended header');
      const body = data.subarray(0, raw.size);
      if (raw.typeflag === 'x') pax = parsePax(body);
      else if (raw.typeflag === 'g') globalPax = parsePax(body);
      else if (raw.typeflag === 'L') longName = cstr(body);
      else longLink = cstr(body);
      continue;
    }
    const merged = new Map([...globalPax, ...pax]);
    const header = toHeader(raw, merged, longName, longLink);
    pax = new Map();
    longName = longLink = undefined;
    // Like Go's archive/tar: only regular files carry data; other types' size is ignored.
    const bodySize = header.type === 'file' ? header.size : 0;
    const padded = Math.ceil(bodySize / BLOCK) * BLOCK;
    let consumed = false;
    const body = (async function* () {
      consumed = true;
      yield* src.stream(bodySize);
    })();
    yield { header, body };
    if (!consumed) for await (const _ of src.stream(bodySize));
    else for await (const _ of body); // finish what the consumer left unread
    const skip = padded - bodySize;
    if (skip > 0 && !(await src.read(skip))) throw badArchive('truncated entry');
  }
  await src.drain();
}

function toHeader(
  raw: RawHeader,
  pax: Map<string, Buffer>,
  longName: string | undefined,
  longLink: string | undefined,
): TarHeader {
  const type = TYPES[raw.typeflag];
  let path = longName ?? raw.path;
  if (type === undefined) {
    const what = raw.typeflag === 'S' ? 'GNU sparse files are' : `type "${raw.typeflag}" is`;
    throw badArchive(`entry "${path}": ${what} not supported`);
  }
  let linkname = longLink ?? raw.linkname;
  const num = (key: string, dflt: number): number => {
    const v = pax.get(key);
    if (v === undefined) return dflt;
    const n = Number(v.toString('latin1'));
    if (!Number.isFinite(n) || n < 0) throw badArchive(`invalid PAX ${key} for "${path}"`);
    return key === 'mtime' ? n : Math.trunc(n);
  };
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k === 'path') path = v.toString('utf8');
    else if (k === 'linkpath') linkname = v.toString('utf8');
    else if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice(13), v);
    else if (k.startsWith('GNU.sparse.'))
      throw badArchive(`entry "${path}": sparse files unsupported`);
  }
  if (path.includes('\0') || linkname.includes('\0')) throw badArchive('NUL byte in a path');
  const header: TarHeader = {
    path: path.endsWith('/') && path.length > 1 ? path.replace(/\/+$/, '') : path,
    type,
    mode: raw.mode & 0o7777,
    uid: num('uid', raw.uid),
    gid: num('gid', raw.gid),
    size: num('size', raw.size),
    mtime: num('mtime', raw.mtime),
  };
  if (type === 'hardlink' || type === 'symlink') header.linkname = linkname;
  if (type === 'char' || type === 'block') {
    header.devmajor = raw.devmajor;
    header.devminor = raw.devminor;
  }
  if (xattrs.size > 0) header.xattrs = xattrs;
  return header;
}

function cstr(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end >= 0 ? end : b.length);
}
