// A blob downloaded straight into a file: read through ./bulk-get.ts (one reused socket buffer),
// hashed as it comes (the digest checked before the download resolves), and written with
// positional writes from a small pool of ~1 MiB batches, in order (constant memory: reading
// pauses while the batches are being written). Redirects are followed (Authorization dropped
// when the host changes, as ./http.ts does); a connection that breaks is resumed with
// `Range: bytes=N-` (a server that answers 200 instead is skipped forward). A first response it
// cannot read this way (an auth challenge, an error, a chunked body) is a NotBulkError before
// any byte is written: the caller asks again through the http client, which handles those.
import { write } from 'node:fs';
import { createHash } from 'node:crypto';
import { parseDigest } from '../digest.js';
import { DigestMismatchError, TsdockError } from '../errors.js';
import { bulkGet, type BulkRequest, type BulkResponse } from './bulk-get.js';
import { isRetryableError, sleep } from './http.js';

export interface FileDownloadOptions {
  url: string;
  headers: Record<string, string>;
  tls?: BulkRequest['tls'];
  idleMs: number;
  digest: string;
  /** The size announced by a descriptor, when known: a response saying otherwise fails. */
  size?: number;
  /** Where the bytes go, from offset 0. */
  fd: number;
  /** Called once, with the size when the response tells it, before the first byte is written. */
  onSize?(size: number | undefined): void | Promise<void>;
  /** Called as bytes are written to the file. */
  onWritten?(n: number): void;
  maxResumes?: number;
}

/** The first response needs the http client (auth, an error to report, a chunked body). */
export class NotBulkError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
  ) {
    super(`HTTP ${status} not read in bulk`);
  }
}

/** How downloadBlobToFile (./registry-client.ts) fetched blobs: in bulk, or through the http client (tests check). */
export const fileDownloadStats = { bulk: 0, fallback: 0 };

/**
 * A batch: 1 MiB and one page, so that writes do not start on 1 MiB boundaries. Aligned 1 MiB
 * writes made the page cache use 1 MiB folios, which on the VMs this is measured on come from
 * memory the host has not backed yet: a tspull of 256 MiB spent ~0.8 s of system time copying
 * into them, against ~0.2 s with this size (and with the http client's unaligned writes).
 */
const BATCH = (1 << 20) + 4096;
const BATCHES = 4;
const REDIRECTS = 5;

/** Downloads and verifies the blob into `fd`; resolves with its size. */
export async function downloadToFile(o: FileDownloadOptions): Promise<number> {
  const algorithm = parseDigest(o.digest).algorithm;
  // hashed as received, on this thread: lending the written batches to the hashing thread
  // (../thread-hash.ts) measured slower here, for tspull and for the proxy alike
  const hash = createHash(algorithm);
  const out = new BatchWriter(o.fd, o.onWritten);
  let offset = 0;
  let total: number | undefined;
  for (let resumes = 0; ;) {
    let res: BulkResponse;
    try {
      res = await open(o, offset);
    } catch (err) {
      if (++resumes <= (o.maxResumes ?? 5) && isRetryableError(err)) {
        await sleep(100 * 2 ** (resumes - 1));
        continue;
      }
      throw err;
    }
    if (!res.body) {
      if (offset === 0) throw new NotBulkError(res.status, res.headers);
      throw new TsdockError(
        `resuming ${o.digest} at byte ${offset}: HTTP ${res.status}`,
        'the registry stopped serving the blob mid-download',
      );
    }
    const body = res.body;
    let announced: number | undefined;
    try {
      announced = sizeOf(res, offset);
    } catch (err) {
      body.close();
      throw err;
    }
    if (total === undefined) {
      total = announced;
      if (o.size !== undefined && total !== undefined && total !== o.size) {
        body.close();
        throw new TsdockError(
          `blob ${o.digest} is ${total} bytes, expected ${o.size}`,
          'the registry sent the wrong content',
        );
      }
      total ??= o.size;
      try {
        await o.onSize?.(total);
      } catch (err) {
        body.close();
        throw err;
      }
    }
    // a 200 to a ranged request is the whole blob again: skip what is already here
    let skip = res.status === 200 ? offset : 0;
    try {
      await body.read((view) => {
        let v = view;
        if (skip > 0) {
          const n = Math.min(skip, v.length);
          skip -= n;
          v = v.subarray(n);
          if (v.length === 0) return;
        }
        if (total !== undefined && offset + v.length > total)
          throw new TsdockError(
            `blob ${o.digest} is over ${total} bytes`,
            'the registry sent the wrong content',
          );
        hash.update(v);
        offset += v.length;
        return out.take(v);
      });
    } catch (err) {
      if (++resumes <= (o.maxResumes ?? 5) && isRetryableError(err)) {
        await out.flush(); // positions stay right whatever comes next
        await sleep(100 * 2 ** (resumes - 1));
        continue;
      }
      await out.flush().catch(() => {});
      throw err;
    }
    if (total === undefined || offset >= total) break;
  }
  await out.flush();
  if (total !== undefined && offset !== total)
    throw new TsdockError(
      `blob ${o.digest} is ${offset} bytes, expected ${total}`,
      'the registry sent the wrong content',
    );
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== o.digest) throw new DigestMismatchError(o.digest, actual);
  return offset;
}

/** The response for the blob from `offset`, redirects followed. */
async function open(o: FileDownloadOptions, offset: number): Promise<BulkResponse> {
  let url = o.url;
  let headers = { ...o.headers };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  for (let hops = 0; ; hops++) {
    const res = await bulkGet({ url, headers, tls: o.tls, idleMs: o.idleMs });
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || !location || hops >= REDIRECTS)
      return res;
    const next = new URL(location, url);
    if (next.host !== new URL(url).host)
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
      );
    url = next.toString();
  }
}

/** The blob's full size from Content-Range (206) or Content-Length (200). */
function sizeOf(res: BulkResponse, offset: number): number | undefined {
  const length = res.body!.length;
  if (res.status !== 206) return length;
  const m = /^bytes (\d+)-\d+\/(\d+)\s*$/.exec(res.headers['content-range'] ?? '');
  if (m && Number(m[1]) !== offset)
    throw new TsdockError(`the registry resumed at byte ${m[1]}, not ${offset}`);
  return m ? Number(m[2]) : offset + length;
}

/**
 * Copied batches written one after another (never two at once: the file then only ever grows
 * by bytes that are in it, which is what readers following it rely on), at most BATCHES + 1
 * made, and reused (fresh 1 MiB buffers are new mappings: page faults on every copy into them,
 * which tripled the system time of a download when one was made and dropped per batch).
 */
class BatchWriter {
  private free: Buffer[] = [];
  /** Batches queued or being written. */
  private out = 0;
  private current: Buffer | undefined;
  private used = 0;
  /** File offset of the current batch. */
  private pos = 0;
  private queue: { buf: Buffer; n: number; at: number }[] = [];
  private writing = false;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly fd: number,
    private readonly onWritten?: (n: number) => void,
  ) {}

  /** Copies `view` in; a promise when every batch is taken (wait for it before the next). */
  take(view: Buffer): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    for (let off = 0; off < view.length;) {
      this.current ??= this.free.pop() ?? Buffer.allocUnsafeSlow(BATCH);
      const n = view.copy(this.current, this.used, off);
      this.used += n;
      off += n;
      if (this.used === BATCH) this.enqueue();
    }
    // pause while this many are out: the next view (a read, up to one batch) then always finds
    // room in the batches already made, so none is allocated after the first few
    if (this.out < BATCHES - 1) return undefined;
    return (async () => {
      while (this.out >= BATCHES - 1 && !this.failure)
        await new Promise<void>((r) => this.waiters.push(r));
    })();
  }

  /** Writes what is gathered and waits for every write. */
  async flush(): Promise<void> {
    if (this.used > 0) this.enqueue();
    while ((this.writing || this.queue.length > 0) && !this.failure)
      await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  private enqueue(): void {
    this.out++;
    this.queue.push({ buf: this.current!, n: this.used, at: this.pos });
    this.pos += this.used;
    this.current = undefined;
    this.used = 0;
    this.pump();
  }

  /** A batch is free again. */
  private back(buf: Buffer): void {
    this.out--;
    if (this.free.length <= BATCHES) this.free.push(buf);
    for (const w of this.waiters.splice(0)) w();
  }

  private pump(): void {
    if (this.writing || this.failure) return;
    const next = this.queue.shift();
    if (!next) return;
    this.writing = true;
    const { buf, n, at } = next;
    const done = (err: NodeJS.ErrnoException | null, from: number): void => {
      if (!err && from < n) {
        write(this.fd, buf, from, n - from, at + from, (e, w) =>
          e || w === 0 ? done(e ?? new Error('write wrote nothing'), from) : done(null, from + w),
        );
        return;
      }
      this.writing = false;
      if (err) this.failure ??= err;
      else this.onWritten?.(n);
      this.back(buf);
      this.pump();
    };
    done(null, 0);
  }
}

/** Writes a stream's chunks into `fd` from offset 0 the same way; resolves with the bytes written. */
export async function writeStreamToFd(
  body: AsyncIterable<Buffer>,
  fd: number,
  onWritten?: (n: number) => void,
): Promise<number> {
  const out = new BatchWriter(fd, onWritten);
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    const wait = out.take(chunk);
    if (wait) await wait;
  }
  await out.flush();
  return n;
}
