// Blob upload sessions (spec "Pushing blobs"): monolithic, chunked (Content-Range, in order)
// and streamed. Bytes are hashed while they are written (no second read); the running hash
// lives in memory per session, and a session resumed after a restart, or continued by another
// replica (the stored size differs), is re-hashed once from its file. Completing verifies the digest before the atomic move into the blob store.
// Open sessions are counted in memory (per client too, for the cap on open sessions), so
// `/metrics` and the cap cost O(1); the counts are loaded once at start (loadCounts).
import { randomUUID, createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { parseDigest } from '../../shared/digest.js';
import { RegistryError } from '../errors.js';
import { uploadDataPath, uploadDir } from '../paths.js';
import type { StorageDriver } from '../storage/driver.js';
import type { MetadataStore, UploadSession } from '../metadata/store.js';
import { KeyedMutex } from '../sync.js';
import type { BlobStore } from './blob-store.js';
import type { GcGuard } from '../gc-guard.js';

interface HashState {
  hash: Hash;
  size: number;
}

export interface ChunkRange {
  start: number;
  end: number;
}

export class UploadService {
  private readonly hashes = new Map<string, HashState>();
  private readonly locks = new KeyedMutex();
  /** Open session -> its client; and open sessions per client. */
  private readonly owners = new Map<string, string>();
  private readonly perClient = new Map<string, number>();
  constructor(
    private readonly driver: StorageDriver,
    private readonly meta: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly guard: GcGuard,
  ) {}

  /** Open sessions one client may hold (0: no cap); the server sets it from the config. */
  maxPerClient = 0;

  /** Open upload sessions (O(1), for /metrics). */
  get openCount(): number {
    return this.owners.size;
  }

  /** Counts the sessions already stored (once, at start). */
  async loadCounts(): Promise<void> {
    for await (const s of this.meta.allSessions()) this.own(s.uuid, s.client ?? '');
  }

  /** Opens a session for `client`; TOOMANYREQUESTS when the client holds too many already. */
  async start(repo: string, client = ''): Promise<UploadSession> {
    if (this.maxPerClient > 0 && (this.perClient.get(client) ?? 0) >= this.maxPerClient)
      throw new RegistryError(
        'TOOMANYREQUESTS',
        `too many open upload sessions (${this.maxPerClient}); finish or cancel some`,
        undefined,
        { headers: { 'Retry-After': '60' } },
      );
    const session: UploadSession = {
      uuid: randomUUID(),
      repo,
      startedAt: new Date().toISOString(),
      client,
    };
    this.own(session.uuid, client);
    try {
      const w = await this.driver.writer(uploadDataPath(session.uuid), { append: false });
      await w.commit();
      await this.meta.putSession(session);
    } catch (err) {
      this.disown(session.uuid);
      throw err;
    }
    this.hashes.set(session.uuid, { hash: createHash('sha256'), size: 0 });
    return session;
  }

  private own(uuid: string, client: string): void {
    if (this.owners.has(uuid)) return;
    this.owners.set(uuid, client);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
  }

  private disown(uuid: string): void {
    const client = this.owners.get(uuid);
    if (client === undefined) return;
    this.owners.delete(uuid);
    const n = (this.perClient.get(client) ?? 1) - 1;
    if (n > 0) this.perClient.set(client, n);
    else this.perClient.delete(client);
  }

  /** The session and the bytes received so far; BLOB_UPLOAD_UNKNOWN when unknown or for another repo. */
  async status(repo: string, uuid: string): Promise<{ session: UploadSession; size: number }> {
    const session = await this.session(repo, uuid);
    // The stored size, not this process's: another replica may have appended since.
    const info = await this.driver.stat(uploadDataPath(uuid)).catch(() => undefined);
    if (!info) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    return { session, size: info.size };
  }

  /** Appends a chunk; with a range, it must start where the upload ends (else 416). */
  async append(repo: string, uuid: string, body: Readable, range?: ChunkRange): Promise<number> {
    return await this.locks.run(uuid, async () => {
      await this.session(repo, uuid);
      return await this.appendLocked(uuid, body, range);
    });
  }

  /** Finishes an upload with an optional last chunk; verifies `digest`; links the blob. */
  async complete(
    repo: string,
    uuid: string,
    digest: string,
    body?: Readable,
    range?: ChunkRange,
  ): Promise<number> {
    return await this.locks.run(uuid, async () => {
      await this.session(repo, uuid);
      if (body) await this.appendLocked(uuid, body, range);
      const { algorithm } = parseDigest(digest);
      const state = await this.hashState(uuid);
      const actual =
        algorithm === 'sha256' && state
          ? `sha256:${state.hash.copy().digest('hex')}`
          : await this.rehash(uuid, algorithm).then((s) => s.digest);
      const size = state?.size ?? 0;
      if (actual !== digest) {
        await this.remove(uuid);
        throw new RegistryError(
          'DIGEST_INVALID',
          'provided digest did not match uploaded content',
          {
            expected: digest,
            actual,
          },
        );
      }
      await this.guard.shared(async () => {
        this.guard.touch(digest);
        await this.blobs.commitFrom(uploadDataPath(uuid), digest, size);
        await this.meta.putLink(repo, digest);
      });
      await this.remove(uuid);
      return size;
    });
  }

  async cancel(repo: string, uuid: string): Promise<void> {
    await this.locks.run(uuid, async () => {
      await this.session(repo, uuid);
      await this.remove(uuid);
    });
  }

  private async appendLocked(uuid: string, body: Readable, range?: ChunkRange): Promise<number> {
    const state = await this.hashState(uuid);
    if (!state) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    const before = state.size;
    if (range && range.start !== before) {
      body.resume();
      throw new RegistryError(
        'RANGE_INVALID',
        `chunk starts at ${range.start}, upload is at ${before}`,
        undefined,
        {
          headers: { Range: rangeHeader(before) },
        },
      );
    }
    const w = await this.driver.writer(uploadDataPath(uuid), { append: true });
    const forked = state.hash.copy();
    let added = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        forked.update(chunk);
        added += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, hasher, w.stream);
      await w.commit();
      if (range && added !== range.end - range.start + 1)
        throw new RegistryError(
          'RANGE_INVALID',
          `Content-Range announced ${range.end - range.start + 1} bytes, got ${added}`,
        );
    } catch (err) {
      await w.commit().catch(() => {});
      await this.driver.truncate(uploadDataPath(uuid), before).catch(() => {});
      throw err instanceof RegistryError
        ? err
        : new RegistryError(
            'BLOB_UPLOAD_INVALID',
            'upload interrupted; resume from the reported range',
          );
    }
    this.hashes.set(uuid, { hash: forked, size: before + added });
    return before + added;
  }

  private async session(repo: string, uuid: string): Promise<UploadSession> {
    const session = /^[0-9a-f-]{36}$/.test(uuid) ? await this.meta.getSession(uuid) : undefined;
    if (!session || session.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    return session;
  }

  /**
   * In-memory hash state, rebuilt from the file after a restart or when the stored size
   * differs from it (another replica sharing the storage appended a chunk).
   */
  private async hashState(uuid: string): Promise<HashState | undefined> {
    const mem = this.hashes.get(uuid);
    if (mem) {
      const stored = await this.driver.stat(uploadDataPath(uuid)).catch(() => undefined);
      if (stored?.size === mem.size) return mem;
      this.hashes.delete(uuid);
    }
    const rebuilt = await this.rehash(uuid, 'sha256').catch(() => undefined);
    if (!rebuilt) return undefined;
    this.hashes.set(uuid, { hash: rebuilt.hash, size: rebuilt.size });
    return this.hashes.get(uuid);
  }

  private async rehash(
    uuid: string,
    algorithm: string,
  ): Promise<{ hash: Hash; size: number; digest: string }> {
    const hash = createHash(algorithm);
    let size = 0;
    for await (const chunk of await this.driver.reader(uploadDataPath(uuid))) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { hash, size, digest: `${algorithm}:${hash.copy().digest('hex')}` };
  }

  private async remove(uuid: string): Promise<void> {
    this.hashes.delete(uuid);
    this.disown(uuid);
    await this.driver.delete(uploadDir(uuid)).catch(() => {});
    await this.meta.deleteSession(uuid);
  }
}

/** The spec's Range header for an upload holding `size` bytes ("0-<last>"). */
export function rangeHeader(size: number): string {
  return `0-${Math.max(size - 1, 0)}`;
}
