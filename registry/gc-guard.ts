// In-process coordination between online garbage collection and blob writers. Writers that link
// blobs (upload commit, mount; HEADs touch too) run under the shared side of a read/write lock
// and "touch" the digests they rely on; the GC deletes each candidate under the exclusive side
// and skips anything touched since the run began. Manifest writes are coordinated through the
// metadata store instead (gc-holds.ts), which also holds across processes.
export class GcGuard {
  private readers = 0;
  private writing = false;
  private waiters: Array<() => void> = [];
  private touched: Set<string> | undefined;

  /** Records that `digest` is in use (only kept while a GC runs). */
  touch(digest: string): void {
    this.touched?.add(digest);
  }

  wasTouched(digest: string): boolean {
    return this.touched?.has(digest) ?? false;
  }

  begin(): void {
    this.touched = new Set();
  }

  end(): void {
    this.touched = undefined;
  }

  get running(): boolean {
    return this.touched !== undefined;
  }

  /** Runs a reference-creating write (many at once). */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writing) await this.wait();
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.wake();
    }
  }

  /** Runs one GC deletion (alone). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writing || this.readers > 0) await this.wait();
    this.writing = true;
    try {
      return await fn();
    } finally {
      this.writing = false;
      this.wake();
    }
  }

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
