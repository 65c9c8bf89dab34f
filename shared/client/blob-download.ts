// A resumable, verified blob download: pushes a GET response's chunks into a Readable as they
// arrive (the response's own 'data' events, paused while the reader is full: no async iterator
// and no PassThrough, whose per-chunk promises and writes cost ~15% of the CPU of a download);
// when the connection breaks before the blob is complete it asks again with `Range: bytes=N-`
// and carries on (also coping with servers that ignore Range), hashing as the bytes flow (on a
// worker thread for large blobs: ../thread-hash.ts).
import { Readable } from 'node:stream';
import { parseDigest } from '../digest.js';
import { inlineHash, threadHash, type IncrementalHash } from '../thread-hash.js';
import { DigestMismatchError, TsdockError } from '../errors.js';
import { header, isRetryableError, sleep, type HttpResponse } from './http.js';

export interface DownloadOptions {
  digest: string;
  /** First byte wanted. */
  start: number;
  /** The blob's full size, when known from a descriptor. */
  size?: number;
  /** Hash the content and fail on mismatch (only meaningful from start 0). */
  verify: boolean;
  /** Opens a response for the blob from `offset` (200 or 206); throws on other statuses. */
  open(offset: number): Promise<HttpResponse>;
  /** Resume attempts after broken connections (default 5). */
  maxResumes?: number;
}

/** Blobs from this size on are hashed on the worker thread. */
const THREAD_HASH_MIN = 16 << 20;

class TruncatedError extends Error {
  readonly code = 'ECONNRESET';
}

export async function downloadBlob(o: DownloadOptions): Promise<Readable> {
  const first = await o.open(o.start);
  const download = new Download(o, first);
  void download
    .run()
    .catch((err: unknown) => download.out.destroy(err as Error))
    .finally(() => download.hash?.abort()); // a no-op once the digest was taken
  return download.out;
}

/** The bytes of one blob across the responses it takes, into `out`. */
class Download {
  readonly out: Readable;
  /** The response the bytes come from now; undefined between responses. */
  private current: HttpResponse | undefined;
  private offset: number;
  readonly hash: IncrementalHash | undefined;
  private readonly algorithm: string;

  constructor(
    private readonly o: DownloadOptions,
    private readonly first: HttpResponse,
  ) {
    this.offset = o.start;
    this.algorithm = parseDigest(o.digest).algorithm;
    if (o.verify && o.start === 0) {
      const total = o.size ?? totalSize(first, o.start);
      this.hash =
        total !== undefined && total >= THREAD_HASH_MIN
          ? threadHash(this.algorithm)
          : inlineHash(this.algorithm);
    }
    this.out = new Readable({
      highWaterMark: 1024 * 1024,
      read: () => this.current?.body.resume(),
      destroy: (err, cb) => {
        this.current?.body.destroy();
        cb(err);
      },
    });
  }

  async run(): Promise<void> {
    const { o, out } = this;
    let total = o.size ?? totalSize(this.first, o.start);
    let res = this.first;
    for (let resumes = 0; ;) {
      try {
        await this.receive(res);
        if (out.destroyed) return;
        if (total === undefined || this.offset >= total) break;
        throw new TruncatedError(`connection closed after ${this.offset} of ${total} bytes`);
      } catch (err) {
        if (out.destroyed) return;
        if (++resumes > (o.maxResumes ?? 5) || !(isRetryableError(err) || isAborted(err)))
          throw err;
        await sleep(100 * 2 ** (resumes - 1));
        res = await o.open(this.offset);
        if (out.destroyed) {
          res.body.destroy(); // the reader went away meanwhile
          return;
        }
        total ??= totalSize(res, this.offset);
      }
    }
    if (total !== undefined && this.offset !== total) {
      throw new TsdockError(
        `blob ${o.digest} is ${this.offset} bytes, expected ${total}`,
        'the registry sent the wrong content',
      );
    }
    if (this.hash) {
      const actual = `${this.algorithm}:${await this.hash.digest()}`;
      if (actual !== o.digest) throw new DigestMismatchError(o.digest, actual);
    }
    out.push(null);
  }

  /** Pushes one response's body into `out`; settles when it ended, broke or `out` went away. */
  private receive(res: HttpResponse): Promise<void> {
    const body = res.body;
    // A 200 to a ranged request is the whole blob again: skip what we already have.
    let skip = res.status === 200 ? this.offset : 0;
    this.current = res;
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
        this.current = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onData = (chunk: Buffer): void => {
        let c = chunk;
        if (skip > 0) {
          const n = Math.min(skip, c.length);
          skip -= n;
          c = c.subarray(n);
          if (c.length === 0) return;
        }
        this.hash?.update(c);
        this.offset += c.length;
        if (!this.out.push(c)) body.pause();
      };
      const onEnd = (): void => settle();
      const onError = (err: Error): void => settle(err);
      const onClose = (): void =>
        settle(Object.assign(new Error('aborted'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onClose);
    });
  }
}

function isAborted(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return (
    e?.message === 'aborted' || e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}

/** The blob's full size from Content-Range (206) or Content-Length (200). */
function totalSize(res: HttpResponse, offset: number): number | undefined {
  if (res.status === 206) {
    const m = /\/(\d+)\s*$/.exec(header(res, 'content-range') ?? '');
    if (m) return Number(m[1]);
    const len = header(res, 'content-length');
    return len ? offset + Number(len) : undefined;
  }
  const len = header(res, 'content-length');
  return len ? Number(len) : undefined;
}
