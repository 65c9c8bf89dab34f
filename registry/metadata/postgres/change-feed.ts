// What other processes changed, for the in-memory caches (manifests by digest in
// services/manifests.ts, the link cache in services/registry.ts; tags are never cached with a
// shared store): the PostgreSQL store announces each write that can make a cached entry stale (a
// manifest or a blob link deleted) with NOTIFY once it has committed, and answers the request
// once it hears its own notice back; every process LISTENs on a connection of its own and
// drops what the notice names. A lost listening connection may have missed notices: every cache
// is dropped then, and again once it listens anew.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PostgresMetadataConfig } from '../../config.js';
import type { StoreChange } from '../store.js';

export const CHANNEL = 'tsregistry_changes';
const RECONNECT_MS = 1000;
const ECHO_WAIT_MS = 1000;

/** Tells this process's notices from others' (its own caches are already up to date). */
const PROCESS_ID = randomUUID();

export class ChangeFeed {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** This process's notices not yet heard back, by sequence number. */
  private readonly echoes = new Map<number, () => void>();
  private sequence = 0;

  constructor(
    private readonly config: PostgresMetadataConfig,
    private readonly listener: (change: StoreChange) => void,
  ) {}

  /** Listens; resolves once notices are being received (or rejects when it cannot connect). */
  async start(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.config.dsn,
      connectionTimeoutMillis: this.config.connecttimeout * 1000,
      application_name: 'tsregistry listen',
    });
    client.on('notification', (n) => this.receive(n.payload));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) return void (await client.end().catch(() => {}));
    this.client = client;
    // Whatever changed while nobody listened is unknown: forget everything.
    this.listener({ kind: 'all' });
  }

  /**
   * Sends a notice through `send` and waits (at most ECHO_WAIT_MS) until this process hears it
   * back: PostgreSQL signals every listener at once, so by then the other processes have it too
   * (a client answered before that could ask another worker and get the stale entry).
   */
  async announce(change: StoreChange, send: (payload: string) => Promise<void>): Promise<void> {
    const n = ++this.sequence;
    const heard = new Promise<void>((resolve) => {
      this.echoes.set(n, resolve);
      setTimeout(resolve, ECHO_WAIT_MS).unref();
    });
    try {
      await send(JSON.stringify({ ...change, from: PROCESS_ID, n }));
      if (this.client) await heard;
    } finally {
      this.echoes.delete(n);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => {});
  }

  private receive(payload: string | undefined): void {
    try {
      const { from, n, ...change } = JSON.parse(payload ?? '') as StoreChange & {
        from?: string;
        n?: number;
      };
      if (from === PROCESS_ID) this.echoes.get(n ?? 0)?.();
      else this.listener(change as StoreChange);
    } catch {
      this.listener({ kind: 'all' });
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.listener({ kind: 'all' });
    const retry = (): void => {
      if (this.closed) return;
      this.start().catch(() => (this.timer = setTimeout(retry, RECONNECT_MS)));
    };
    this.timer = setTimeout(retry, RECONNECT_MS);
  }
}
