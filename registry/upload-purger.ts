// Background expiry of abandoned upload sessions, like the reference registry's
// `storage.maintenance.uploadpurging` (age 168h, interval 24h by default): every interval,
// sessions started longer than `age` ago are cancelled (their data and record removed), and
// expired GC holds are removed.
import type { Logger } from 'pino';
import type { Registry } from './services/registry.js';
import { heldDigests } from './gc-holds.js';
import { UPLOADS_ROOT } from './paths.js';

export interface UploadPurgingConfig {
  enabled: boolean;
  /** Seconds after which an unfinished session is abandoned. */
  age: number;
  /** Seconds between runs (the first run comes one interval, at most 5 minutes, after start). */
  interval: number;
  /** Only log what would be purged. */
  dryrun: boolean;
}

export class UploadPurger {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly config: UploadPurgingConfig,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    if (!this.config.enabled || this.timer) return;
    const tick = (): void => {
      void this.purge().catch((err) => this.logger?.error({ err }, 'upload purge failed'));
    };
    const first = setTimeout(
      () => {
        tick();
        this.timer = setInterval(tick, this.config.interval * 1000);
        this.timer.unref();
      },
      Math.min(this.config.interval, 300) * 1000,
    );
    first.unref();
    this.timer = first;
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /** One pass; returns how many sessions were (or, dry run, would be) purged. */
  purge(now = Date.now()): Promise<number> {
    this.running ??= this.purgeOnce(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async purgeOnce(now: number): Promise<number> {
    const cutoff = now - this.config.age * 1000;
    const stale: Array<{ repo: string; uuid: string }> = [];
    for await (const s of this.registry.meta.allSessions())
      if (Date.parse(s.startedAt) <= cutoff) stale.push(s);
    if (!this.config.dryrun) {
      for (const s of stale)
        await this.registry.uploads.cancel(s.repo, s.uuid).catch(() => undefined);
      // Expired GC holds (uploads and mounts leave theirs to expire: gc-holds.ts) go too.
      await heldDigests(this.registry.meta);
      // Writes a crashed process left half-done (S3 multipart uploads) expire at the same age.
      const incomplete = await this.registry.driver.purgeIncomplete?.(
        UPLOADS_ROOT,
        new Date(cutoff),
      );
      if (incomplete) this.logger?.info({ incomplete }, 'incomplete multipart uploads aborted');
    }
    if (stale.length)
      this.logger?.info(
        { sessions: stale.length, dryRun: this.config.dryrun },
        'abandoned uploads purged',
      );
    return stale.length;
  }
}
