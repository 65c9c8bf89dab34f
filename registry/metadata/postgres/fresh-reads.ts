// Concurrent reads of one key share a query, without ever answering from a query that began
// before the caller asked (which could miss a write another replica acknowledged to this client
// just before): a caller arriving while a read of its key is in flight waits for the next read,
// which every caller arriving meanwhile shares. Many clients pulling one tag at once cost about
// two queries per database round trip instead of one per request.
interface Slot<V> {
  inFlight?: Promise<V>;
  next?: Promise<V>;
}

export class FreshReads<V> {
  private readonly slots = new Map<string, Slot<V>>();

  constructor(private readonly read: (key: string) => Promise<V>) {}

  get(key: string): Promise<V> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = {}));
    const running = slot.inFlight;
    if (!running) return this.launch(key, slot);
    const s = slot;
    s.next ??= running.then(ignore, ignore).then(() => {
      s.next = undefined;
      return this.launch(key, s);
    });
    return s.next;
  }

  private launch(key: string, slot: Slot<V>): Promise<V> {
    const p: Promise<V> = this.read(key).finally(() => {
      if (slot.inFlight !== p) return;
      slot.inFlight = undefined;
      if (!slot.next) this.slots.delete(key);
    });
    slot.inFlight = p;
    return p;
  }
}

function ignore(): void {}
