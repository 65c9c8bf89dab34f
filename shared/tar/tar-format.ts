// Tar header encoding and decoding (ustar + PAX), byte-exact and binary-safe.
// Writing: one deterministic ustar header per entry, preceded by a PAX 'x' record only when a
// field does not fit (long or non-ASCII names, big ids/sizes, xattrs), keys sorted, no
// uname/gname, no atime/ctime. Reading: ustar, GNU (long names) and PAX, with xattr values kept
// as raw bytes (decoding them as UTF-8, as some tar libraries do, corrupts security.capability).
import { InvalidInputError } from '../errors.js';

export const BLOCK = 512;
/** A PAX or GNU long-name record larger than this is refused (hostile archives). */
export const MAX_META_SIZE = 1024 * 1024;

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Path inside the archive, without a trailing slash (added for dirs when encoding). */
  path: string;
  type: TarType;
  /** Permission bits incl. setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (integer when written by us). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (PAX SCHILY.xattr.*), values as raw bytes. */
  xattrs?: Map<string, Buffer>;
}

const TYPE_FLAG: Record<TarType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

// ---------------------------------------------------------------- encoding

/** Encodes one entry's header (with a leading PAX record if needed); body not included. */
export function encodeHeader(h: TarHeader): Buffer {
  const pax = new Map<string, Buffer>();
  let name = h.type === 'dir' ? `${h.path}/` : h.path;
  let prefix = '';
  if (!fitsAscii(name, 100)) {
    const split = splitUstar(name);
    if (split) [prefix, name] = split;
    else {
      pax.set('path', Buffer.from(name, 'utf8'));
      name = asciiTrunc(name, 100);
    }
  }
  let linkname = h.linkname ?? '';
  if (!fitsAscii(linkname, 100)) {
    pax.set('linkpath', Buffer.from(linkname, 'utf8'));
    linkname = asciiTrunc(linkname, 100);
  }
  const num = (key: string, v: number, digits: number): number => {
    if (Number.isInteger(v) && v >= 0 && v < 8 ** digits) return v;
    pax.set(key, Buffer.from(String(v)));
    return 0;
  };
  const uid = num('uid', h.uid, 7);
  const gid = num('gid', h.gid, 7);
  const size = num('size', h.size, 11);
  const mtime = num('mtime', h.mtime, 11);
  for (const [k, v] of h.xattrs ?? []) pax.set(`SCHILY.xattr.${k}`, v);

  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, uid);
  writeOctal(block, 116, 8, gid);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.write(TYPE_FLAG[h.type], 156, 1, 'ascii');
  block.write(linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 8, 'ascii');
  writeOctal(block, 329, 8, h.devmajor ?? 0);
  writeOctal(block, 337, 8, h.devminor ?? 0);
  block.write(prefix, 345, 155, 'utf8');
  writeChecksum(block);
  if (pax.size === 0) return block;
  return Buffer.concat([paxBlock(h.path, pax), block]);
}

/** Padding after a body of `size` bytes. */
export function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem);
}

/** The end-of-archive marker: two zero blocks. */
export function trailer(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** A PAX extended header ('x') carrying `records` for the entry at `path`. */
export function paxBlock(path: string, records: Map<string, Buffer>): Buffer {
  const body = Buffer.concat([...records.keys()].sort().map((k) => paxRecord(k, records.get(k)!)));
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash + 1) : '';
  const base = path.slice(slash + 1);
  const header = Buffer.alloc(BLOCK);
  header.write(asciiTrunc(`${dir}PaxHeaders.0/${base}`, 100), 0, 100, 'ascii');
  writeOctal(header, 100, 8, 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, body.length);
  writeOctal(header, 136, 12, 0);
  header.write('x', 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  writeChecksum(header);
  return Buffer.concat([header, body, padding(body.length)]);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ' '=' '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

function fitsAscii(s: string, max: number): boolean {
  return s.length <= max && /^[\x20-\x7e]*$/.test(s);
}

function asciiTrunc(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

function splitUstar(name: string): [string, string] | undefined {
  if (!/^[\x20-\x7e]*$/.test(name) || name.length > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const p = name.slice(0, i);
    const n = name.slice(i + 1);
    if (p.length <= 155 && n.length <= 100 && n.length > 0) return [p, n];
    if (p.length <= 155) return undefined;
  }
  return undefined;
}

function writeOctal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(`${v.toString(8).padStart(len - 1, '0')}\u0000`, off, len, 'ascii');
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
}

// ---------------------------------------------------------------- decoding

/** A raw header block as read, before PAX/GNU overrides are applied. */
export interface RawHeader {
  path: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Decodes a header block; returns undefined for an all-zero block (end of archive). */
export function decodeHeader(block: Buffer): RawHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  verifyChecksum(block);
  const magic = block.toString('latin1', 257, 263);
  const isUstar = magic === 'ustar\u0000';
  const isGnu = magic === 'ustar ';
  let path = cstring(block, 0, 100);
  if (isUstar) {
    const prefix = cstring(block, 345, 155);
    if (prefix) path = `${prefix}/${path}`;
  }
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  return {
    path,
    typeflag,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    linkname: cstring(block, 157, 100),
    devmajor: isUstar || isGnu ? readNumber(block, 329, 8) : 0,
    devminor: isUstar || isGnu ? readNumber(block, 337, 8) : 0,
  };
}

/** Parses PAX records; values are raw bytes (paths are decoded by the caller). */
export function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // zero padding
    const sp = buf.indexOf(0x20, pos);
    const len = sp > pos ? Number(buf.toString('latin1', pos, sp)) : NaN;
    if (!Number.isInteger(len) || len <= sp - pos || pos + len > buf.length) {
      throw badArchive('malformed PAX record');
    }
    const rec = buf.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0 || buf[pos + len - 1] !== 0x0a) throw badArchive('malformed PAX record');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

function verifyChecksum(block: Buffer): void {
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw badArchive('tar header checksum mismatch (corrupt archive, or not a tar)');
  }
}

function readNumber(buf: Buffer, off: number, len: number): number {
  if (buf[off]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    if (buf[off] === 0xff) throw badArchive('negative numeric field in tar header');
    let v = buf[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    if (!Number.isSafeInteger(v)) throw badArchive('numeric field too large in tar header');
    return v;
  }
  const s = buf
    .toString('latin1', off, off + len)
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw badArchive(`invalid octal field "${s}" in tar header`);
  return parseInt(s, 8);
}

function cstring(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end >= 0 && end < off + len ? end : off + len);
}

export function badArchive(msg: string): InvalidInputError {
  return new InvalidInputError(
    `invalid layer archive: ${msg}`,
    'the layer blob is not a valid tar',
  );
}
