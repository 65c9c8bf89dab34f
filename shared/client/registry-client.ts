// The registry client: the OCI distribution API (blobs, uploads, mounts, manifests, tags) for one
// registry, with authentication (auth.ts), retries (http.ts) and resumable, verified blob
// downloads (blob-download.ts). Used by tspush/tspull, the builder's FROM and the runner's pull.
import type { Readable } from 'node:stream';
import { digestOf, isDigest, parseDigest, type Digest } from '../digest.js';
import { NotFoundError, TsdockError, DigestMismatchError } from '../errors.js';
import { MANIFEST_MEDIA_TYPES } from '../media-types.js';
import { isInsecureByDefault, registryApiHost } from '../reference.js';
import { loadCredentials } from '../credentials.js';
import { Authenticator, repositoryScope, type Credentials } from './auth.js';
import { downloadBlob } from './blob-download.js';
import {
  NotBulkError,
  downloadToFile,
  fileDownloadStats,
  writeStreamToFd,
} from './file-download.js';
import {
  IDLE_TIMEOUT_MS,
  drain,
  header,
  isTransient,
  networkError,
  readBody,
  send,
  sleep,
  tlsTrust,
  type HttpResponse,
} from './http.js';
import {
  cancelUpload,
  finishUpload,
  startUpload,
  uploadChunks,
  type BlobSource,
  type RegistryRequest,
  type Requester,
  type UploadOptions,
} from './blob-upload.js';
import { errorFromResponse, type Operation } from './registry-errors.js';

export type { Credentials } from './auth.js';
export type { BlobSource, UploadOptions } from './blob-upload.js';

export interface RegistryClientOptions {
  /** Registry host as written in references (`docker.io`, `localhost:5000`). */
  registry: string;
  /** Allow plain HTTP and unverified TLS (default: true for loopback hosts). */
  insecure?: boolean;
  /** Credentials; `null` for anonymous; undefined loads them from tslogin's / docker's config. */
  credentials?: Credentials | null;
  userAgent?: string;
  /** Blobs larger than this go up in PATCH chunks (default 512 MiB). */
  monolithicLimit?: number;
  /** Chunk size for chunked uploads (default 64 MiB). */
  chunkSize?: number;
  /** Base URL (`https://registry-1.docker.io`) instead of the one derived from `registry`. */
  endpoint?: string;
  /** PEM certificates of CAs to trust for this registry, besides the built-in roots. */
  ca?: string;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export type UploadResult = 'exists' | 'mounted' | 'uploaded';

export class RegistryClient implements Requester {
  readonly registry: string;
  readonly insecure: boolean;
  private readonly userAgent: string;
  private readonly monolithicLimit: number;
  readonly chunkSize: number;
  private base: Promise<string> | undefined;
  private auth: Promise<Authenticator> | undefined;

  constructor(private readonly opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.insecure = opts.insecure ?? isInsecureByDefault(opts.registry);
    this.userAgent = opts.userAgent ?? 'tsdock/0.1';
    this.monolithicLimit = opts.monolithicLimit ?? 512 * 1024 * 1024;
    this.chunkSize = opts.chunkSize ?? 64 * 1024 * 1024;
  }

  /** Checks that the registry answers the v2 API and that the credentials are accepted. */
  async ping(): Promise<void> {
    const res = await this.request({ method: 'GET', path: '/v2/', scopes: [] }, { op: 'login' });
    if (res.status !== 200) throw await this.error(res, { op: 'login' });
    await drain(res);
  }

  /** The size of a blob if the repository has it. */
  async headBlob(repo: string, digest: string): Promise<number | undefined> {
    const res = await this.request(
      { method: 'HEAD', path: `/v2/${repo}/blobs/${digest}`, scopes: [pull(repo)] },
      { op: 'pull', repo },
    );
    await drain(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.error(res, { op: 'pull', repo });
    return Number(header(res, 'content-length') ?? '0');
  }

  /**
   * A blob's content as a stream. Broken connections are resumed with Range requests; when
   * read from the start, the content is verified against `digest` (the stream errors with
   * DigestMismatchError otherwise). `size`, when known, lets truncation be detected early.
   */
  async getBlob(
    repo: string,
    digest: string,
    opts: {
      start?: number;
      size?: number;
      verify?: boolean;
      /** Called with each response opened (the first tells the blob's size). */
      onResponse?: (res: HttpResponse) => void;
    } = {},
  ): Promise<Readable> {
    return downloadBlob({
      digest,
      start: opts.start ?? 0,
      size: opts.size,
      verify: opts.verify ?? (opts.start ?? 0) === 0,
      open: async (offset) => {
        const headers: Record<string, string> = {};
        if (offset > 0) headers.range = `bytes=${offset}-`;
        const res = await this.request(
          { method: 'GET', path: `/v2/${repo}/blobs/${digest}`, scopes: [pull(repo)], headers },
          { op: 'pull', repo },
        );
        if (res.status === 404) {
          await drain(res);
          throw new NotFoundError(`blob ${digest} not found in ${this.registry}/${repo}`);
        }
        if (res.status !== 200 && res.status !== 206)
          throw await this.error(res, { op: 'pull', repo });
        opts.onResponse?.(res);
        return res;
      },
    });
  }

  /**
   * Downloads a blob straight into `fd` (from offset 0), verified, reading the socket into one
   * reused buffer (./file-download.ts): for large blobs, whose bytes through the http client
   * cost ~3x the CPU. When the registry's first answer needs the http client (an auth challenge,
   * an error to report, a chunked body), the blob comes through getBlob instead, into the same
   * file. Resolves with the size.
   */
  async downloadBlobToFile(
    repo: string,
    digest: string,
    fd: number,
    opts: {
      size?: number;
      /** Called once before the first byte is written, with the size when known. */
      onSize?: (size: number | undefined) => void | Promise<void>;
      onWritten?: (n: number) => void;
    } = {},
  ): Promise<number> {
    const auth = await this.authenticator();
    const url = `${await this.baseUrl()}/v2/${repo}/blobs/${digest}`;
    const scopes = auth.accumulate([pull(repo)]);
    // an auth challenge is answered here (a token for the scope), as request() does
    for (let tries = 0; tries < 3; tries++) {
      const authorization = await auth.authorization(scopes);
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      if (authorization) headers.authorization = authorization;
      try {
        const size = await downloadToFile({
          url,
          headers,
          tls: url.startsWith('https:') ? tlsTrust(this.insecure, this.opts.ca) : undefined,
          idleMs: IDLE_TIMEOUT_MS,
          digest,
          size: opts.size,
          fd,
          onSize: opts.onSize,
          onWritten: opts.onWritten,
        });
        fileDownloadStats.bulk++;
        return size;
      } catch (err) {
        if (!(err instanceof NotBulkError)) throw networkError(url, err);
        const retry =
          err.status === 401 && auth.onChallenge(err.headers['www-authenticate'], authorization);
        if (!retry) break;
      }
    }
    fileDownloadStats.fallback++;
    let size = opts.size;
    const body = await this.getBlob(repo, digest, {
      size: opts.size,
      onResponse: (res) => {
        const length = header(res, 'content-length');
        if (size === undefined && res.status === 200 && length !== undefined) size = Number(length);
      },
    });
    await opts.onSize?.(size);
    return writeStreamToFd(body, fd, opts.onWritten);
  }

  /** Uploads a blob unless the repository has it; tries cross-repo mounts first. */
  async uploadBlob(repo: string, source: BlobSource, opts: UploadOptions): Promise<UploadResult> {
    if ((await this.headBlob(repo, opts.digest)) !== undefined) return 'exists';
    let location: string | undefined;
    for (const from of (opts.mountFrom ?? []).filter((r) => r !== repo).slice(0, 3)) {
      if (location) await cancelUpload(this, repo, location);
      const started = await startUpload(this, repo, { digest: opts.digest, from });
      if (started.mounted) return 'mounted';
      location = started.location; // the registry opened a normal upload session instead
    }
    for (let attempt = 1; ; attempt++) {
      location ??= (await startUpload(this, repo)).location!;
      try {
        if (opts.chunked || opts.size > this.monolithicLimit)
          await uploadChunks(this, repo, location, source, opts);
        else await finishUpload(this, repo, location, opts, source);
        break;
      } catch (err) {
        // A broken connection mid-upload: start a fresh session (bounded).
        if (attempt >= 3 || !isTransient(err)) throw err;
        await cancelUpload(this, repo, location);
        location = undefined;
        await sleep(250 * attempt);
      }
    }
    return 'uploaded';
  }

  /** Mounts a blob from another repository of the same registry; false if it was not mounted. */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<boolean> {
    const started = await startUpload(this, repo, { digest, from: fromRepo });
    if (started.mounted) return true;
    await cancelUpload(this, repo, started.location!);
    return false;
  }

  /** Fetches a manifest (or index) by tag or digest, verifying the digest when fetched by one. */
  async getManifest(
    repo: string,
    ref: string,
    accept: readonly string[] = MANIFEST_MEDIA_TYPES,
  ): Promise<FetchedManifest> {
    const res = await this.request(
      {
        method: 'GET',
        path: `/v2/${repo}/manifests/${ref}`,
        scopes: [pull(repo)],
        headers: { accept: accept.join(', ') },
      },
      { op: 'pull', repo, ref },
    );
    if (res.status !== 200) throw await this.error(res, { op: 'pull', repo, ref });
    const bytes = await readBody(res, 4 * 1024 * 1024);
    const digest = digestOf(bytes);
    if (isDigest(ref)) {
      const algorithm = parseDigest(ref).algorithm;
      const actual = algorithm === 'sha256' ? digest : digestOf(bytes, algorithm);
      if (actual !== ref) throw new DigestMismatchError(ref, actual);
    }
    return { bytes, mediaType: manifestMediaType(header(res, 'content-type'), bytes), digest };
  }

  /** A manifest's digest, media type and size without its body; undefined if absent. */
  async headManifest(
    repo: string,
    ref: string,
    accept: readonly string[] = MANIFEST_MEDIA_TYPES,
  ): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    const res = await this.request(
      {
        method: 'HEAD',
        path: `/v2/${repo}/manifests/${ref}`,
        scopes: [pull(repo)],
        headers: { accept: accept.join(', ') },
      },
      { op: 'pull', repo, ref },
    );
    await drain(res);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.error(res, { op: 'pull', repo, ref });
    const digest = header(res, 'docker-content-digest');
    if (!digest || !isDigest(digest)) return undefined;
    return {
      digest,
      mediaType: (header(res, 'content-type') ?? '').split(';')[0]!.trim(),
      size: Number(header(res, 'content-length') ?? '0'),
    };
  }

  /** Stores a manifest under a tag or its digest; returns its digest. */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request(
      {
        method: 'PUT',
        path: `/v2/${repo}/manifests/${ref}`,
        scopes: [push(repo)],
        headers: { 'content-type': mediaType },
        body: bytes,
      },
      { op: 'push', repo, ref },
    );
    if (res.status !== 201 && res.status !== 200)
      throw await this.error(res, { op: 'push', repo, ref });
    await drain(res);
    const digest = digestOf(bytes);
    const reported = header(res, 'docker-content-digest');
    if (reported && reported.startsWith('sha256:') && reported !== digest)
      throw new DigestMismatchError(digest, reported);
    return digest;
  }

  /** All tags of a repository, following `Link` pagination. */
  async listTags(repo: string, pageSize?: number): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list${pageSize ? `?n=${pageSize}` : ''}`;
    while (path) {
      const res = await this.request(
        { method: 'GET', path, scopes: [pull(repo)] },
        { op: 'pull', repo },
      );
      if (res.status !== 200) throw await this.error(res, { op: 'pull', repo });
      const body = JSON.parse((await readBody(res)).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      path = nextLink(header(res, 'link'));
    }
    return tags;
  }

  /** Deletes a manifest by digest. */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await this.request(
      {
        method: 'DELETE',
        path: `/v2/${repo}/manifests/${digest}`,
        scopes: [repositoryScope(repo, ['delete'])],
      },
      { op: 'delete', repo, ref: digest },
    );
    if (res.status !== 202 && res.status !== 200)
      throw await this.error(res, { op: 'delete', repo, ref: digest });
    await drain(res);
  }

  /** Declares that an operation will need `actions` on `repo` (tokens then cover them all). */
  async declareScope(repo: string, actions: string[]): Promise<void> {
    (await this.authenticator()).accumulate([repositoryScope(repo, actions)]);
  }

  // ---- plumbing ----

  /** An authenticated request (401 challenges answered, bounded); for blob-upload.ts. */
  async request(req: RegistryRequest, ctx: Operation): Promise<HttpResponse> {
    const auth = await this.authenticator();
    const base = await this.baseUrl();
    const url = /^https?:\/\//.test(req.path) ? req.path : base + req.path;
    const scopes = auth.accumulate(req.scopes);
    for (let tries = 0; ; tries++) {
      const authorization = await auth.authorization(scopes);
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
      if (authorization) headers.authorization = authorization;
      const res = await send({
        method: req.method,
        url,
        headers,
        body: req.body,
        bodyLength: req.bodyLength,
        attempts: req.attempts,
        insecureTls: this.insecure,
        ca: this.opts.ca,
      });
      if (res.status !== 401) return res;
      if (tries >= 2 || !(await auth.onUnauthorized(res, authorization))) {
        throw await this.error(res, {
          ...ctx,
          sentCredentials: authorization !== undefined && auth.hasCredentials,
        });
      }
    }
  }

  /** The one-line error for a failed response. */
  error(res: HttpResponse, ctx: Operation): Promise<TsdockError> {
    return errorFromResponse(res, { ...ctx, registry: this.registry });
  }

  private authenticator(): Promise<Authenticator> {
    this.auth ??= (async () => {
      const creds =
        this.opts.credentials === null
          ? undefined
          : (this.opts.credentials ?? (await loadCredentials(this.registry)));
      return new Authenticator(this.registry, creds, {
        insecureTls: this.insecure,
        userAgent: this.userAgent,
        ca: this.opts.ca,
      });
    })();
    return this.auth;
  }

  /** `https://host` or, for insecure registries that do not speak TLS, `http://host`. */
  private baseUrl(): Promise<string> {
    this.base ??= (async () => {
      if (this.opts.endpoint) return this.opts.endpoint.replace(/\/+$/, '');
      const host = registryApiHost(this.registry);
      if (!this.insecure) return `https://${host}`;
      try {
        const res = await send({
          method: 'GET',
          url: `https://${host}/v2/`,
          insecureTls: true,
          attempts: 1,
        });
        await drain(res);
        return `https://${host}`;
      } catch {
        return `http://${host}`;
      }
    })();
    return this.base;
  }
}

function pull(repo: string): string {
  return repositoryScope(repo, ['pull']);
}

function push(repo: string): string {
  return repositoryScope(repo, ['pull', 'push']);
}

/** The media type of a fetched manifest: the header, else the document's own mediaType. */
function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  const ct = (contentType ?? '').split(';')[0]!.trim();
  if (MANIFEST_MEDIA_TYPES.includes(ct)) return ct;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    if (doc.mediaType) return doc.mediaType;
    return doc.manifests
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.oci.image.manifest.v1+json';
  } catch {
    return ct;
  }
}

/** The path of a `Link: <...>; rel="next"` header. */
export function nextLink(link: string | undefined): string | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return m ? m[1] : undefined;
}
