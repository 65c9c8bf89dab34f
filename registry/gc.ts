// Online garbage collection (no read-only mode). Mark: every blob a manifest of any repository
// references, and the manifests themselves. Optionally first drop untagged manifests that no
// index or subject keeps. Sweep: blob files not marked and older than the grace period, in
// batches: each batch is condemned, the writers' holds are read and every manifest re-marked
// (gc-holds.ts: a manifest write in flight is either seen or waits), and what is still unused,
// and not touched by an upload or mount since the run began (a hold in the store, every process)
// or a HEAD (gc-guard.ts, this process only), is deleted under the guard's exclusive side together with its repository links.
import type { Logger } from 'pino';
import { BLOBS_ROOT, digestFromBlobPath } from './paths.js';
import type { Registry } from './services/registry.js';
import type { Metrics } from './metrics.js';
import { heldDigests } from './gc-holds.js';

/** Candidates condemned and swept together (each batch re-marks every manifest once). */
const SWEEP_BATCH = 1000;

interface Candidate {
  digest: string;
  size: number;
}

function splitKey(key: string): { repo: string; digest: string } {
  const at = key.lastIndexOf('@');
  return { repo: key.slice(0, at), digest: key.slice(at + 1) };
}

export interface GcReport {
  dryRun: boolean;
  blobsDeleted: string[];
  bytesFreed: number;
  uploadsPurged: number;
  manifestsDeleted: Array<{ repo: string; digest: string }>;
}

export interface GcOptions {
  /** Also delete manifests no tag, index or present subject keeps. */
  untagged: boolean;
  /** Seconds a blob must have existed before it can go (protects pushes in progress). */
  grace: number;
  /** Seconds after which an abandoned upload session is purged (default 7 days). */
  uploadMaxAge?: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** One past collection, for the console's GC page (`GET /admin/gc/runs`). */
export interface GcRunSummary {
  at: string;
  ms: number;
  dryRun: boolean;
  blobs: number;
  bytesFreed: number;
  manifests: number;
  error?: string;
}

const RUNS_KEPT = 20;

export class GarbageCollector {
  private current: Promise<GcReport> | undefined;
  /** The last collections this process ran, newest first. */
  readonly runs: GcRunSummary[] = [];
  /** When the running collection began (uploads and mounts since are kept). */
  private started = 0;
  constructor(
    private readonly registry: Registry,
    private readonly opts: GcOptions,
  ) {}

  /** Runs one collection (a second caller joins the running one). */
  run(opts: { dryRun: boolean; untagged?: boolean; grace?: number }): Promise<GcReport> {
    this.current ??= this.recorded(
      opts.dryRun,
      this.collect(opts.dryRun, opts.untagged ?? this.opts.untagged, opts.grace ?? this.opts.grace),
    ).finally(() => (this.current = undefined));
    return this.current;
  }

  private async recorded(dryRun: boolean, collection: Promise<GcReport>): Promise<GcReport> {
    const began = Date.now();
    const summary = (r?: GcReport, error?: string): GcRunSummary => ({
      at: new Date(began).toISOString(),
      ms: Date.now() - began,
      dryRun,
      blobs: r?.blobsDeleted.length ?? 0,
      bytesFreed: r?.bytesFreed ?? 0,
      manifests: r?.manifestsDeleted.length ?? 0,
      ...(error === undefined ? {} : { error }),
    });
    try {
      const report = await collection;
      this.runs.unshift(summary(report));
      return report;
    } catch (err) {
      this.runs.unshift(summary(undefined, (err as Error).message));
      throw err;
    } finally {
      this.runs.length = Math.min(this.runs.length, RUNS_KEPT);
    }
  }

  /** Resolves once no collection is running. */
  async idle(): Promise<void> {
    await this.current?.catch(() => {});
  }

  private async collect(dryRun: boolean, untagged: boolean, grace: number): Promise<GcReport> {
    const { registry } = this;
    const report: GcReport = {
      dryRun,
      blobsDeleted: [],
      bytesFreed: 0,
      uploadsPurged: 0,
      manifestsDeleted: [],
    };
    // One collection at a time on the store, across every process sharing it: a second run's
    // pardon() below would withdraw the first run's condemnations.
    const unlock = await registry.meta.lockCollection();
    const started = Date.now();
    this.started = started;
    registry.guard.begin();
    try {
      // Condemnations a crashed run left behind (one collection runs at a time).
      if (!dryRun) await registry.meta.pardon();
      const removed = untagged ? await this.untaggedManifests() : new Set<string>();
      if (dryRun) for (const key of removed) report.manifestsDeleted.push(splitKey(key));
      else await this.deleteManifests(removed, report);
      const marked = await this.mark(dryRun ? removed : new Set());
      const cutoff = started - grace * 1000;
      const candidates: Candidate[] = [];
      await registry.driver.walk(BLOBS_ROOT, (info) => {
        const digest = digestFromBlobPath(info.path);
        if (digest && !marked.has(digest) && info.modTime.getTime() <= cutoff)
          candidates.push({ digest, size: info.size });
      });
      for (let i = 0; i < candidates.length; i += SWEEP_BATCH) {
        const batch = candidates.slice(i, i + SWEEP_BATCH);
        if (dryRun) this.reportBlobs(batch, report);
        else await this.sweep(batch, report);
      }
      report.uploadsPurged = await this.purgeUploads(started, dryRun);
      this.opts.metrics?.gcRuns.inc({ result: 'ok' });
      this.opts.logger?.info(
        {
          dryRun,
          blobs: report.blobsDeleted.length,
          bytes: report.bytesFreed,
          manifests: report.manifestsDeleted.length,
        },
        'gc done',
      );
      return report;
    } catch (err) {
      this.opts.metrics?.gcRuns.inc({ result: 'error' });
      throw err;
    } finally {
      registry.guard.end();
      await unlock();
    }
  }

  /** Every manifest digest and every digest a manifest references, skipping `exclude`d manifests. */
  private async mark(exclude: Set<string>): Promise<Set<string>> {
    const marked = new Set<string>();
    for await (const { repo, digest, record } of this.registry.meta.allManifests()) {
      if (exclude.has(`${repo}@${digest}`)) continue;
      marked.add(digest);
      for (const ref of record.refs) marked.add(ref);
    }
    return marked;
  }

  /**
   * Deletes a batch of candidate blobs (see gc-holds.ts): condemn them, then read the writers'
   * holds and re-mark from the manifest records; only what neither keeps goes.
   */
  private async sweep(batch: Candidate[], report: GcReport): Promise<void> {
    const { meta } = this.registry;
    const digests = batch.map((c) => c.digest);
    await meta.condemn(digests);
    try {
      const held = await heldDigests(meta, this.started);
      const marked = await this.mark(new Set());
      const links = await this.linksByDigest(new Set(digests));
      const gone = batch.filter((c) => !held.has(c.digest) && !marked.has(c.digest));
      const deleted: Candidate[] = [];
      try {
        for (const c of gone)
          if (await this.deleteBlob(c.digest, links.get(c.digest) ?? [])) deleted.push(c);
      } finally {
        this.registry.manifests.forgetBlobs(new Set(deleted.map((c) => c.digest)));
      }
      this.reportBlobs(deleted, report);
    } finally {
      await meta.pardon(digests);
    }
  }

  private reportBlobs(blobs: Candidate[], report: GcReport): void {
    for (const c of blobs) {
      if (this.registry.guard.wasTouched(c.digest)) continue;
      report.blobsDeleted.push(c.digest);
      report.bytesFreed += c.size;
    }
  }

  /** `${repo}@${digest}` of manifests no tag, parent index or existing subject keeps. */
  private async untaggedManifests(): Promise<Set<string>> {
    const meta = this.registry.meta;
    const kept = new Set<string>();
    for await (const t of meta.allTags()) kept.add(`${t.repo}@${t.digest}`);
    const all: Array<{ key: string; refs: string[]; repo: string; subject?: string }> = [];
    for await (const { repo, digest, record } of meta.allManifests())
      all.push({ key: `${repo}@${digest}`, refs: record.refs, repo, subject: record.subject });
    const present = new Set(all.map((m) => m.key));
    // Children of kept indexes and referrers of present subjects are kept; repeat to a fixpoint.
    let changed = true;
    while (changed) {
      changed = false;
      for (const m of all) {
        if (kept.has(m.key)) {
          for (const ref of m.refs)
            if (present.has(`${m.repo}@${ref}`) && !kept.has(`${m.repo}@${ref}`)) {
              kept.add(`${m.repo}@${ref}`);
              changed = true;
            }
        } else if (m.subject && kept.has(`${m.repo}@${m.subject}`)) {
          kept.add(m.key);
          changed = true;
        }
      }
    }
    return new Set(all.map((m) => m.key).filter((k) => !kept.has(k)));
  }

  /** Deletes untagged manifests with the same condemn / holds / re-check steps as blobs. */
  private async deleteManifests(keys: Set<string>, report: GcReport): Promise<void> {
    if (keys.size === 0) return;
    const { registry } = this;
    const digests = [...keys].map((k) => splitKey(k).digest);
    await registry.meta.condemn(digests);
    try {
      const held = await heldDigests(registry.meta, this.started);
      const stillRemovable = await this.untaggedManifests();
      for (const key of keys) {
        const { repo, digest } = splitKey(key);
        if (held.has(digest) || !stillRemovable.has(key)) continue;
        await registry.meta.deleteManifest(repo, digest);
        registry.manifests.forget(repo, digest);
        report.manifestsDeleted.push({ repo, digest });
      }
    } finally {
      await registry.meta.pardon(digests);
    }
  }

  /** Abandoned upload sessions (older than uploadMaxAge) are cancelled. */
  private async purgeUploads(now: number, dryRun: boolean): Promise<number> {
    const maxAge = (this.opts.uploadMaxAge ?? 7 * 24 * 3600) * 1000;
    const stale = [];
    for await (const s of this.registry.meta.allSessions())
      if (now - Date.parse(s.startedAt) >= maxAge) stale.push(s);
    if (!dryRun)
      for (const s of stale) await this.registry.uploads.cancel(s.repo, s.uuid).catch(() => {});
    return stale.length;
  }

  /** Repositories linking each candidate (links made later come with a touch). */
  private async linksByDigest(candidates: Set<string>): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for await (const { repo, digest } of this.registry.meta.allLinks())
      if (candidates.has(digest)) out.set(digest, [...(out.get(digest) ?? []), repo]);
    return out;
  }

  private async deleteBlob(digest: string, repos: string[]): Promise<boolean> {
    const { registry } = this;
    return await registry.guard.exclusive(async () => {
      if (registry.guard.wasTouched(digest)) return false;
      for (const repo of repos) await registry.meta.deleteLink(repo, digest);
      registry.forgetBlob(digest);
      await registry.blobs.delete(digest).catch(() => {});
      return true;
    });
  }
}
