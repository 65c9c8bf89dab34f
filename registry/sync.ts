// Small async locks: a keyed mutex (one upload session, one tag, one blob at a time).
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** True while a holder of `key` runs or waits. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Runs fn once every earlier holder of `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => next);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
