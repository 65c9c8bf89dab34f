// Pieces shared by pull and push: the progress seam they report to, a bounded parallel map,
// and a byte-counting pass-through for progress.
import { Transform, type TransformCallback } from 'node:stream';
import type { Descriptor } from '../manifest.js';
import type { RegistryClient } from './registry-client.js';

/** One line of progress (a layer), as shared/progress.ts draws it: `<id>: <label or status>`. */
export interface ProgressItem {
  update(current: number, total?: number): void;
  done(status?: string): void;
  fail(status: string): void;
}

/** Where transfers report (shared/progress.ts's createProgress() fits). */
export interface TransferProgress {
  item(id: string, label: string): ProgressItem;
}

export interface TransferOptions {
  progress?: TransferProgress;
  /** A client to reuse (its auth state); else one is made for the reference's registry. */
  client?: RegistryClient;
  /** Allow plain HTTP / unverified TLS (default: loopback registries only). */
  insecure?: boolean;
  /** Blobs transferred at once (default 3). */
  concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 3;

/** Docker's short id of a digest: the first 12 hex characters. */
export function shortId(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

/** Runs `fn` over `items`, `limit` at a time; waits for all, then throws the first failure. */
export async function parallel<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
  return results;
}

/** Passes bytes through, reporting the running total (plus `base`) to `onBytes`. */
export function counter(onBytes: (n: number) => void, base = 0): Transform {
  let n = base;
  let last = 0;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      n += chunk.length;
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        onBytes(n);
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      onBytes(n);
      cb();
    },
  });
}

/** A progress sink that reports nothing. */
export const noProgress: TransferProgress = {
  item: () => ({ update() {}, done() {}, fail() {} }),
};

/** Descriptors with duplicates (the same blob listed twice) removed, order kept. */
export function unique(list: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest) !== undefined);
}
