// Password checks off the event loop: a small pool of worker threads running bcrypt compares
// (password-worker.ts), so a burst of logins, right or wrong, does not stall every other request.
// Jobs queue in arrival order; past `maxQueue` waiting jobs a check is refused with
// TOOMANYREQUESTS instead of growing the queue without bound.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RegistryError } from '../errors.js';
import type { CompareJob, CompareResult } from './password-worker.js';

/** Compares a password with a bcrypt hash. */
export interface PasswordChecker {
  compare(password: string, hash: string): Promise<boolean>;
  close(): Promise<void>;
}

interface Pending {
  job: CompareJob;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

export class PasswordPool implements PasswordChecker {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Worker, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    /** Worker threads (default: one less than the CPUs, at least 1, at most 4). */
    private readonly size = Math.min(4, Math.max(1, availableParallelism() - 1)),
    private readonly maxQueue = 256,
  ) {}

  compare(password: string, hash: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('password pool closed'));
    if (this.queue.length >= this.maxQueue)
      return Promise.reject(
        new RegistryError('TOOMANYREQUESTS', 'too many logins in progress', undefined, {
          headers: { 'Retry-After': '1' },
        }),
      );
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, password, hash }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('password pool closed'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? this.spawn();
      if (!worker) return;
      const next = this.queue.shift()!;
      this.running.set(worker, next);
      worker.postMessage(next.job);
    }
  }

  private spawn(): Worker | undefined {
    if (this.all.length >= this.size) return undefined;
    const worker = new Worker(new URL('./password-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (msg: CompareResult) => {
      const p = this.running.get(worker);
      this.running.delete(worker);
      if (p?.job.id === msg.id) p.resolve(msg.ok);
      this.idle.push(worker);
      this.dispatch();
    });
    worker.on('error', (err) => this.lose(worker, err));
    worker.on('exit', () => this.lose(worker, new Error('password worker exited')));
    this.all.push(worker);
    return worker;
  }

  /** A worker died: fail its job, forget it, and let the next job start a fresh one. */
  private lose(worker: Worker, err: Error): void {
    const p = this.running.get(worker);
    this.running.delete(worker);
    p?.reject(err);
    for (const list of [this.all, this.idle]) {
      const at = list.indexOf(worker);
      if (at >= 0) list.splice(at, 1);
    }
    if (!this.closed) this.dispatch();
  }
}
