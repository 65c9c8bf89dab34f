// A digest computed on a worker thread (./thread-hash-worker.ts), for large downloads whose
// receiving already keeps the main thread busy: hashing 256 MiB takes ~150 ms of CPU here, which
// on the main thread is 150 ms less of everything else (the registry's proxy measured its main
// thread saturated while fetching a large blob). update() copies the bytes into 1 MiB batches
// that are transferred to the thread (never shared: the caller may reuse or keep its chunks)
// and come back to a small pool once hashed; digest() resolves with the hex digest once every
// batch is hashed. One thread per process, started on first use and not keeping the process
// alive; if it dies, the digests it owed reject (a download then fails: never a wrong pass).
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** What a download hashes its bytes with. */
export interface IncrementalHash {
  update(chunk: Buffer): void;
  /** The hex digest of everything given; the hash is finished. */
  digest(): Promise<string>;
  /** Forget the bytes (the download failed). */
  abort(): void;
}

/** Hashing on the calling thread, for small content. */
export function inlineHash(algorithm: string): IncrementalHash {
  const h: Hash = createHash(algorithm);
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => Promise.resolve(h.digest('hex')),
    abort: () => {},
  };
}

const BATCH = 1 << 20;
const POOL_MAX = 8;
const pool: ArrayBuffer[] = [];
const owed = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
/** The thread, and its hashes started and not yet finished or aborted (it keeps the process alive meanwhile). */
interface HashThread {
  worker: Worker;
  active: number;
}
let current: HashThread | undefined;
let nextId = 1;

function begin(t: HashThread): void {
  if (t.active++ === 0) t.worker.ref();
}

function end(t: HashThread): void {
  if (--t.active === 0) t.worker.unref();
}

export type ThreadHashMessage =
  | { kind: 'start'; id: number; algorithm: string }
  | { kind: 'data'; id: number; buf: ArrayBuffer; length: number }
  | { kind: 'final'; id: number }
  | { kind: 'abort'; id: number };

export type ThreadHashReply =
  | { kind: 'buffer'; buf: ArrayBuffer }
  | { kind: 'digest'; id: number; hex: string }
  | { kind: 'error'; id: number; message: string };

function thread(): HashThread {
  if (current) return current;
  const w = new Worker(new URL('../shared/thread-hash-worker.js', import.meta.url));
  w.on('message', (m: ThreadHashReply) => {
    if (m.kind === 'buffer') {
      if (pool.length < POOL_MAX) pool.push(m.buf);
      return;
    }
    const o = owed.get(m.id);
    owed.delete(m.id);
    if (!o) return;
    if (m.kind === 'digest') o.resolve(m.hex);
    else o.reject(new Error(`hashing failed: ${m.message}`));
  });
  const t: HashThread = { worker: w, active: 0 };
  const lost = (err: Error): void => {
    if (current === t) current = undefined;
    for (const o of owed.values()) o.reject(err);
    owed.clear();
  };
  w.on('error', lost);
  w.on('exit', () => lost(new Error('the hashing thread exited')));
  // idle, it does not keep the process alive (after the listeners: adding one refs it again)
  w.unref();
  current = t;
  return t;
}

/** How many hashes went to the thread (tests check that large content did). */
export const threadHashStats = { started: 0 };

/** Hashing on the worker thread. */
export function threadHash(algorithm: string): IncrementalHash {
  const id = nextId++;
  threadHashStats.started++;
  const t = thread();
  const w = t.worker;
  begin(t);
  w.postMessage({ kind: 'start', id, algorithm } satisfies ThreadHashMessage);
  let batch: Uint8Array | undefined;
  let used = 0;
  let finished = false;
  const flush = (): void => {
    if (!batch || used === 0) return;
    const buf = batch.buffer as ArrayBuffer;
    w.postMessage({ kind: 'data', id, buf, length: used } satisfies ThreadHashMessage, [buf]);
    batch = undefined;
    used = 0;
  };
  return {
    update(chunk) {
      if (finished) throw new Error('hash already finished');
      for (let off = 0; off < chunk.length;) {
        batch ??= new Uint8Array(pool.pop() ?? new ArrayBuffer(BATCH));
        const n = Math.min(chunk.length - off, BATCH - used);
        batch.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === BATCH) flush();
      }
    },
    digest() {
      if (finished) return Promise.reject(new Error('hash already finished'));
      finished = true;
      if (current !== t) {
        end(t);
        return Promise.reject(new Error('the hashing thread exited'));
      }
      flush();
      return new Promise<string>((resolve, reject) => {
        owed.set(id, { resolve, reject });
        w.postMessage({ kind: 'final', id } satisfies ThreadHashMessage);
      }).finally(() => end(t));
    },
    abort() {
      if (finished) return;
      finished = true;
      w.postMessage({ kind: 'abort', id } satisfies ThreadHashMessage);
      end(t);
    },
  };
}
