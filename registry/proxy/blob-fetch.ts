// Pull-through of one missing blob: a single upstream fetch per digest on this machine, shared
// by every request that wants it meanwhile, in this process and in the other workers on the
// same storage. The leading process (the one that took the fetch's lock, ./fetch-files.ts)
// streams the upstream body, hashed on the way (the stream errors on a digest mismatch), into
// a file; every client, here or in another worker, tails that file as it grows, at its own
// pace (memory stays constant however slow a client is), through a sendfile(2) helper where
// the connection allows (../storage/drivers/filesystem/native-send.ts). The last byte is held
// back until the whole blob is in the file and verified, so no client ever receives a complete
// wrong blob; a failed or mismatching fetch stores nothing. Clients do not wait for the cache's
// own durability (the fsync of a large blob took ~0.15 s per 256 MiB here, on every cold pull):
// until the blob is stored the fetch stays open, so a request meanwhile joins it (and a HEAD is
// answered from it) and a client that has the whole blob always finds it served here.
// Verified bytes become visible in storage only by the (durable) move into the blob's key.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest } from '../../shared/digest.js';
import { proxyFetchDir, uploadDataPath, uploadDir } from '../paths.js';
import type { Registry } from '../services/registry.js';
import { FilesystemDriver } from '../storage/drivers/filesystem/filesystem-driver.js';
import { sendFile } from '../storage/drivers/filesystem/file-io.js';
import { nativeTarget, sendNative } from '../storage/drivers/filesystem/native-send.js';
import { FetchFiles } from './fetch-files.js';
import type { ProxyTarget } from './routes.js';

/** How often a client that caught up with the fetch looks for more bytes. */
const POLL_MS = 10;

export interface FetchEvents {
  /** Bytes received from the upstream. */
  onBytes(n: number): void;
  /** The blob is stored and linked. */
  onStored(size: number): void;
}

type Status =
  | { state: 'running' }
  /** every byte is in the data file and matched the digest; storing it goes on */
  | { state: 'verified'; size: number }
  | { state: 'stored'; size: number }
  | { state: 'failed' };

/** A fetch one client can read: the announced size, and the bytes as they arrive. */
export interface OpenFetch {
  /** The size the upstream announced, when it did. */
  readonly size: number | undefined;
  /** Writes the whole verified blob to `dest` (not ending it); rejects when the fetch fails. */
  sendTo(dest: Writable): Promise<void>;
  /** Resolves once the blob is stored and linked for the client's repository. */
  readonly done: Promise<void>;
}

/** One fetch of a digest as this process sees it: led here, or followed from another worker. */
class SharedFetch {
  size: number | undefined;
  /** Resolves once the data file exists and the size is known. */
  readonly ready: Promise<void>;
  readonly done: Promise<void>;
  private status: Status = { state: 'running' };
  private failure: Error | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly target: ProxyTarget,
    private readonly digest: string,
    private readonly files: FetchFiles,
    private readonly events: FetchEvents,
  ) {
    let ready!: () => void;
    let notReady!: (err: Error) => void;
    this.ready = new Promise((resolve, reject) => ((ready = resolve), (notReady = reject)));
    this.done = this.run(ready).catch((err: Error) => {
      // verified bytes stay good for the clients still reading them, even if storing failed
      if (this.status.state !== 'verified') {
        this.failure = err;
        this.status = { state: 'failed' };
      }
      notReady(err);
      throw err;
    });
    this.done.catch(() => {});
    this.ready.catch(() => {});
  }

  private async run(ready: () => void): Promise<void> {
    if (await this.files.tryLock()) await this.lead(ready);
    else await this.follow(ready);
    ready(); // stored before any byte was needed: open() finds no data and serves storage
  }

  /** Fetches from the upstream into the data file, verifies, stores and links. */
  private async lead(ready: () => void): Promise<void> {
    const { files } = this;
    let received = 0;
    try {
      const stored = await this.registry.blobs.size(this.digest, { fresh: true });
      if (stored !== undefined) return this.finishFollowed({ state: 'stored', size: stored });
      const { upstream } = this.target.route;
      const data = await fsp.open(files.data, 'w');
      try {
        // rejects after the last byte when the bytes do not match the digest
        received = await upstream.blobToFile(this.target.remoteRepo, this.digest, data.fd, {
          onSize: async (size) => {
            this.size = size;
            await files.publishSize(size);
            ready();
          },
          onWritten: (n) => this.events.onBytes(n),
        });
      } finally {
        await data.close();
      }
      // clients get their last byte now; the fetch stays open for newcomers until stored
      this.status = { state: 'verified', size: received };
      await this.store(received);
    } finally {
      await files.remove();
    }
    this.status = { state: 'stored', size: received };
    this.events.onStored(received);
  }

  /** Moves (or, on drivers other than the filesystem, copies) the verified file into the blob's key. */
  private async store(size: number): Promise<void> {
    const { registry, digest } = this;
    const driver = registry.driver;
    let key: string;
    let temp: string | undefined;
    if (driver instanceof FilesystemDriver) key = `${proxyFetchDir(digest)}/data`;
    else {
      temp = randomUUID();
      key = uploadDataPath(temp);
      const w = await driver.writer(key, { append: false });
      try {
        const file = await fsp.open(this.files.data, 'r');
        await pipeline(file.createReadStream({ highWaterMark: 1 << 20 }), w.stream);
        await w.commit();
      } catch (err) {
        await w.cancel().catch(() => {});
        throw err;
      }
    }
    try {
      await registry.guard.shared(async () => {
        registry.guard.touch(digest);
        await registry.blobs.commitFrom(key, digest, size);
        await registry.meta.putLink(this.target.repo, digest);
      });
    } finally {
      if (temp) await driver.delete(uploadDir(temp)).catch(() => {});
    }
  }

  /** Waits for another process's fetch: its size, then its end (stored or failed). */
  private async follow(ready: () => void): Promise<void> {
    for (;;) {
      const size = await this.files.readSize();
      if (size !== undefined) {
        this.size = size ?? undefined;
        break;
      }
      const s = await this.followed();
      if (s.state !== 'running') return this.finishFollowed(s);
      await sleep(POLL_MS);
    }
    ready();
    for (;;) {
      const s = await this.followed();
      if (s.state !== 'running') return this.finishFollowed(s);
      await sleep(POLL_MS * 5);
    }
  }

  private finishFollowed(s: Status): void {
    if (s.state === 'failed')
      throw new Error(`the fetch of ${this.digest} in another worker failed`);
    this.status = s; // BlobFetcher.open links it for each client's repository
  }

  /** The state of another process's fetch, from the storage. */
  private async followed(): Promise<Status> {
    const stored = async (): Promise<Status | undefined> => {
      const size = await this.registry.blobs.size(this.digest, { fresh: true });
      return size === undefined ? undefined : { state: 'stored', size };
    };
    const first = await stored();
    if (first) return first;
    if (await this.files.locked())
      return (await this.files.stale()) ? { state: 'failed' } : { state: 'running' };
    return (await stored()) ?? { state: 'failed' };
  }

  /** The blob's size once every byte of it is verified, here or in storage. */
  get verifiedSize(): number | undefined {
    return this.status.state === 'verified' || this.status.state === 'stored'
      ? this.status.size
      : undefined;
  }

  /** The state, for a client that caught up with the bytes. */
  private current(): Status {
    if (this.failure) throw this.failure;
    return this.status;
  }

  /** A reader for one more client; undefined when the blob got stored before it could join. */
  async open(): Promise<OpenFetch | undefined> {
    await this.ready;
    let handle: FileHandle;
    try {
      handle = await fsp.open(this.files.data, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.done;
      return undefined; // moved into place already: storage serves it
    }
    return {
      size: this.size,
      done: this.done,
      sendTo: async (dest) => {
        try {
          await this.tail(handle, dest);
        } finally {
          await handle.close();
        }
      },
    };
  }

  /**
   * Sends the file as it grows, all but the last byte until the blob is verified. Where the
   * connection allows, one blobsend helper follows the file for all those bytes (sendfile(2), no
   * copy through JavaScript), stopped if the fetch fails.
   */
  private async tail(handle: FileHandle, dest: Writable): Promise<void> {
    let pos = 0;
    const size = this.size;
    const target = size !== undefined && size > 1 ? await nativeTarget(dest, size - 1) : undefined;
    if (target) {
      const stop = new AbortController();
      this.done.catch((err: unknown) => this.failure && stop.abort(err));
      await sendNative(handle, target, 0, size! - 2, { follow: true, stop: stop.signal });
      pos = size! - 1;
    }
    for (;;) {
      const written = (await handle.stat()).size;
      const limit = Math.min(written, (this.size ?? written) - 1);
      if (pos < limit) {
        await sendFile(handle, dest, pos, limit - 1);
        pos = limit;
        continue;
      }
      const s = this.current();
      if (s.state === 'verified' || s.state === 'stored') {
        if (pos < s.size) await sendFile(handle, dest, pos, s.size - 1);
        return;
      }
      if (dest.destroyed) throw new Error('client went away');
      await sleep(POLL_MS);
    }
  }
}

/** The fetches this process takes part in, one per digest. */
export class BlobFetcher {
  private readonly running = new Map<string, SharedFetch>();
  private readonly localDir = join(tmpdir(), `tsregistry-proxy-${process.pid}`);

  constructor(
    private readonly registry: Registry,
    private readonly events: (target: ProxyTarget) => FetchEvents,
  ) {}

  /**
   * Joins the fetch of `digest` running on this machine, or starts one; undefined when the blob
   * got stored meanwhile (serve it from storage). Rejects when the upstream cannot give it.
   */
  async open(target: ProxyTarget, digest: string): Promise<OpenFetch | undefined> {
    let fetch = this.running.get(digest);
    if (!fetch) {
      const f = new SharedFetch(
        this.registry,
        target,
        digest,
        this.files(digest),
        this.events(target),
      );
      this.running.set(digest, f);
      void f.done.then(
        () => this.running.delete(digest),
        () => this.running.delete(digest),
      );
      fetch = f;
    }
    const opened = await fetch.open();
    if (!opened) return undefined;
    const { registry } = this;
    // the client may come from another proxied repository than the leader: link it there too
    const done = opened.done.then(() =>
      registry.guard.shared(async () => {
        registry.guard.touch(digest);
        await registry.meta.putLink(target.repo, digest);
      }),
    );
    done.catch(() => {});
    return { size: opened.size, sendTo: opened.sendTo, done };
  }

  /** The size of `digest` when a fetch of it here has every byte verified but may not have stored it yet. */
  verifiedSize(digest: string): number | undefined {
    return this.running.get(digest)?.verifiedSize;
  }

  /** Number of fetches in flight in this process. */
  get size(): number {
    return this.running.size;
  }

  /** Where the fetch of `digest` keeps its files: in the storage (shared with the other workers) on the filesystem driver, else a directory of this process. */
  private files(digest: string): FetchFiles {
    const driver = this.registry.driver;
    if (driver instanceof FilesystemDriver)
      return new FetchFiles(driver.fullPath(proxyFetchDir(digest)));
    const { algorithm, hex } = parseDigest(digest);
    return new FetchFiles(join(this.localDir, `${algorithm}-${hex}`));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
