// Pull-through of one missing blob: a single upstream fetch per repository and digest, shared
// by every request that wants it meanwhile. The bytes stream to each waiting client as they
// arrive, while they are written to a temporary storage key and hashed (the upstream stream
// errors on a digest mismatch). The last chunk is held back until the digest is verified and
// the blob stored, so no client ever receives a complete wrong blob, and a client that has the
// whole blob finds it cached; a failed or mismatching fetch stores nothing. Verified bytes
// become visible only by the atomic move into the blob's key, then are linked.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { uploadDataPath, uploadDir } from '../paths.js';
import type { Registry } from '../services/registry.js';
import type { FileWriter } from '../storage/driver.js';
import type { ProxyTarget } from './routes.js';

/** Bytes of one fetch kept in memory for clients that join late; past it they wait for storage. */
const REPLAY_LIMIT = 256 * 1024 * 1024;

export interface FetchEvents {
  /** Bytes received from the upstream. */
  onBytes(n: number): void;
  /** The blob is stored and linked. */
  onStored(size: number): void;
}

/** One running fetch. */
export class BlobFetch {
  /** The blob's size, once the upstream said (undefined when it did not). */
  size: number | undefined;
  /** Resolves once the upstream answered (size known) or rejects when it could not. */
  readonly started: Promise<void>;
  /** Resolves once the blob is stored and linked; rejects when the fetch failed. */
  readonly done: Promise<void>;
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private verified = false;
  private failure: Error | undefined;
  private readonly clients = new Set<PassThrough>();
  private resolveStarted!: () => void;

  constructor(
    private readonly registry: Registry,
    private readonly target: ProxyTarget,
    private readonly digest: string,
    private readonly events: FetchEvents,
  ) {
    let rejectStarted!: (err: Error) => void;
    this.started = new Promise<void>((resolve, reject) => {
      this.resolveStarted = resolve;
      rejectStarted = reject;
    });
    this.done = this.run().catch((err: Error) => {
      this.failure = err;
      rejectStarted(err);
      for (const c of this.clients) c.destroy(err);
      this.clients.clear();
      this.replay = undefined;
      throw err;
    });
    // callers that only await `started` must not leave `done` unhandled
    this.done.catch(() => {});
    this.started.catch(() => {});
  }

  /**
   * A stream of the whole blob for one more client (what arrived so far, then live), or
   * undefined when the early bytes are no longer in memory (wait for `done`, read storage).
   */
  subscribe(): Readable | undefined {
    if (this.failure) throw this.failure;
    if (!this.replay) return undefined;
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    for (const c of this.replay) out.write(c);
    if (this.verified) out.end();
    else {
      this.clients.add(out);
      out.on('close', () => this.clients.delete(out));
    }
    return out;
  }

  private async run(): Promise<void> {
    const { upstream } = this.target.route;
    const blob = await upstream.blob(this.target.remoteRepo, this.digest);
    this.size = blob.size;
    this.resolveStarted();
    const id = randomUUID();
    const temp = uploadDataPath(id);
    const driver = this.registry.driver;
    const removeTemp = (): Promise<void> => driver.delete(uploadDir(id)).catch(() => {});
    const writer = await driver.writer(temp, { append: false });
    let size = 0;
    let held: Buffer | undefined;
    try {
      for await (const chunk of blob.body as AsyncIterable<Buffer>) {
        this.events.onBytes(chunk.length);
        if (held) {
          this.send(held);
          await this.write(held, writer);
        }
        held = chunk;
        size += chunk.length;
      }
      // the body ended without error: the digest matched
      if (blob.size !== undefined && size !== blob.size)
        throw new Error(`upstream sent ${size} bytes of ${this.digest}, announced ${blob.size}`);
      if (held) await this.write(held, writer);
      await writer.commit();
    } catch (err) {
      blob.body.destroy();
      await writer.cancel().catch(() => {});
      await removeTemp();
      throw err;
    }
    try {
      await this.store(temp, size);
    } finally {
      await removeTemp();
    }
    // the last bytes go out once the blob is cached: what a client got, its next request finds
    if (held) this.send(held);
    this.verified = true;
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.replay = undefined;
    this.events.onStored(size);
  }

  /** Passes a chunk to the clients (and keeps it for late ones, within REPLAY_LIMIT). */
  private send(chunk: Buffer): void {
    for (const c of this.clients) c.write(chunk);
    if (this.replay) {
      this.replayBytes += chunk.length;
      if (this.replayBytes <= REPLAY_LIMIT) this.replay.push(chunk);
      else this.replay = undefined;
    }
  }

  private async write(chunk: Buffer, writer: FileWriter): Promise<void> {
    // once() rejects on 'error' and removes its listeners either way
    if (!writer.stream.write(chunk)) await once(writer.stream, 'drain');
  }

  /** Moves the verified bytes into the blob's key and links it, safe from a concurrent GC. */
  private async store(temp: string, size: number): Promise<void> {
    const { registry, digest } = this;
    await registry.guard.shared(async () => {
      registry.guard.touch(digest);
      await registry.blobs.commitFrom(temp, digest, size);
      await registry.meta.putLink(this.target.repo, digest);
    });
  }
}

/** The running fetches, one per repository and digest. */
export class BlobFetcher {
  private readonly running = new Map<string, BlobFetch>();

  constructor(
    private readonly registry: Registry,
    private readonly events: (target: ProxyTarget) => FetchEvents,
  ) {}

  /** The fetch of `digest` into `target.repo` already running, or a new one. */
  fetch(target: ProxyTarget, digest: string): { fetch: BlobFetch; joined: boolean } {
    const key = `${target.repo}@${digest}`;
    const running = this.running.get(key);
    if (running) return { fetch: running, joined: true };
    const fetch = new BlobFetch(this.registry, target, digest, this.events(target));
    this.running.set(key, fetch);
    void fetch.done.then(
      () => this.running.delete(key),
      () => this.running.delete(key),
    );
    return { fetch, joined: false };
  }

  /** Number of fetches in flight. */
  get size(): number {
    return this.running.size;
  }
}
