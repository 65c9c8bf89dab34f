// Blob uploads for the registry client (distribution-spec "push"): open a session (or mount
// across repositories), then one monolithic PUT or PATCH chunks with Content-Range sent in
// order, then the closing PUT with ?digest=. RegistryClient.uploadBlob retries a broken
// upload with a fresh session.
import { Readable } from 'node:stream';
import { DigestMismatchError, TsdockError } from '../errors.js';
import { repositoryScope } from './auth.js';
import { drain, header, type Body, type HttpResponse } from './http.js';
import type { Operation } from './registry-errors.js';

/** Opens a blob's content from `start` (inclusive) to its end. */
export type BlobSource = (start: number) => Readable;

export interface UploadOptions {
  digest: string;
  size: number;
  /** Force PATCH chunks even for small blobs. */
  chunked?: boolean;
  /** Repositories on this registry that may hold the blob already (tried as cross-repo mounts). */
  mountFrom?: string[];
}

export interface RegistryRequest {
  method: string;
  /** A path under the registry's base URL, or an absolute URL (upload locations). */
  path: string;
  scopes: string[];
  headers?: Record<string, string>;
  body?: Body;
  bodyLength?: number;
  attempts?: number;
}

/** What the upload functions need from the client: authenticated requests and error mapping. */
export interface Requester {
  readonly registry: string;
  readonly chunkSize: number;
  request(req: RegistryRequest, ctx: Operation): Promise<HttpResponse>;
  error(res: HttpResponse, ctx: Operation): Promise<TsdockError>;
}

function push(repo: string): string {
  return repositoryScope(repo, ['pull', 'push']);
}

function pull(repo: string): string {
  return repositoryScope(repo, ['pull']);
}

export async function startUpload(
  rq: Requester,
  repo: string,
  mount?: { digest: string; from: string },
): Promise<{ mounted: boolean; location?: string }> {
  const q = mount
    ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`
    : '';
  const scopes = [push(repo), ...(mount ? [pull(mount.from)] : [])];
  const res = await rq.request(
    { method: 'POST', path: `/v2/${repo}/blobs/uploads/${q}`, scopes },
    { op: 'push', repo },
  );
  await drain(res);
  if (mount && res.status === 201) return { mounted: true };
  if (res.status !== 202) throw await rq.error(res, { op: 'push', repo });
  return { mounted: false, location: uploadLocation(rq, res) };
}

export async function finishUpload(
  rq: Requester,
  repo: string,
  location: string,
  opts: UploadOptions,
  source?: BlobSource,
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', opts.digest);
  const res = await rq.request(
    {
      method: 'PUT',
      path: url.toString(),
      scopes: [push(repo)],
      headers: { 'content-type': 'application/octet-stream' },
      body: source ? () => source(0) : undefined,
      bodyLength: source ? opts.size : undefined,
      attempts: source ? 1 : undefined,
    },
    { op: 'push', repo },
  );
  await drain(res);
  if (res.status !== 201) throw await rq.error(res, { op: 'push', repo });
  const reported = header(res, 'docker-content-digest');
  if (reported && reported !== opts.digest) throw new DigestMismatchError(opts.digest, reported);
}

export async function uploadChunks(
  rq: Requester,
  repo: string,
  location: string,
  source: BlobSource,
  opts: UploadOptions,
): Promise<void> {
  // A chunk that fails is not resumed inside the session: the reference registry may keep part
  // of a cut PATCH while reporting the old Range, so the caller starts a fresh session instead.
  for (let start = 0; start < opts.size;) {
    const len = Math.min(rq.chunkSize, opts.size - start);
    const from = start;
    const res = await rq.request(
      {
        method: 'PATCH',
        path: location,
        scopes: [push(repo)],
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${from}-${from + len - 1}`,
        },
        body: () => take(source(from), len),
        bodyLength: len,
        attempts: 1,
      },
      { op: 'push', repo },
    );
    await drain(res);
    if (res.status !== 202) throw await rq.error(res, { op: 'push', repo });
    location = uploadLocation(rq, res);
    start += len;
  }
  await finishUpload(rq, repo, location, opts);
}

export async function cancelUpload(rq: Requester, repo: string, location: string): Promise<void> {
  try {
    const res = await rq.request(
      { method: 'DELETE', path: location, scopes: [push(repo)] },
      { op: 'push', repo },
    );
    await drain(res);
  } catch {
    // an abandoned session expires on the registry anyway
  }
}

export function uploadLocation(rq: Requester, res: HttpResponse): string {
  const loc = header(res, 'location');
  if (!loc) throw new TsdockError(`registry ${rq.registry} sent no upload Location`);
  return new URL(loc, res.url).toString();
}

/** The first `n` bytes of a stream (the rest is not read and the source is closed). */
function take(src: Readable, n: number): Readable {
  return Readable.from(
    (async function* () {
      let left = n;
      try {
        for await (const chunk of src) {
          const c = chunk as Buffer;
          if (c.length >= left) {
            yield c.subarray(0, left);
            return;
          }
          left -= c.length;
          yield c;
        }
      } finally {
        src.destroy();
      }
    })(),
    { objectMode: false },
  );
}
