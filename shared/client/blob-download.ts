// A resumable, verified blob download: streams a GET response into a PassThrough; when the
// connection breaks before the blob is complete it asks again with `Range: bytes=N-` and carries
// on (also coping with servers that ignore Range), hashing as the bytes flow.
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { parseDigest } from '../digest.js';
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

class TruncatedError extends Error {
  readonly code = 'ECONNRESET';
}

export async function downloadBlob(o: DownloadOptions): Promise<Readable> {
  const first = await o.open(o.start);
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  void pump(o, first, out).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

async function pump(o: DownloadOptions, first: HttpResponse, out: PassThrough): Promise<void> {
  const { algorithm } = parseDigest(o.digest);
  const hash = o.verify && o.start === 0 ? createHash(algorithm) : undefined;
  let offset = o.start;
  let total = o.size ?? totalSize(first, o.start);
  let res = first;
  for (let resumes = 0; ;) {
    try {
      // A 200 to a ranged request is the whole blob again: skip what we already have.
      let skip = res.status === 200 ? offset : 0;
      for await (const chunk of res.body) {
        let c = chunk as Buffer;
        if (skip > 0) {
          const n = Math.min(skip, c.length);
          skip -= n;
          c = c.subarray(n);
          if (c.length === 0) continue;
        }
        hash?.update(c);
        offset += c.length;
        if (!out.write(c)) await drained(out);
        if (out.destroyed) {
          res.body.destroy();
          return;
        }
      }
      if (total === undefined || offset >= total) break;
      throw new TruncatedError(`connection closed after ${offset} of ${total} bytes`);
    } catch (err) {
      if (out.destroyed) return;
      if (++resumes > (o.maxResumes ?? 5) || !(isRetryableError(err) || isAborted(err))) throw err;
      await sleep(100 * 2 ** (resumes - 1));
      res = await o.open(offset);
      total ??= totalSize(res, offset);
    }
  }
  if (total !== undefined && offset !== total) {
    throw new TsdockError(
      `blob ${o.digest} is ${offset} bytes, expected ${total}`,
      'the registry sent the wrong content',
    );
  }
  if (hash) {
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== o.digest) throw new DigestMismatchError(o.digest, actual);
  }
  out.end();
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

function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}
