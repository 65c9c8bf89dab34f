// Garbage collection of the local store: mark from index.json (indexes -> manifests ->
// config + layers, and referrers whose subject is marked), then sweep unmarked blobs. A blob
// younger than the grace period is kept (a concurrent writer may not have tagged it yet), and a
// young manifest protects what it references. Blobs of images just removed by tsrmi
// (`candidates`) go at once unless a writer touched them after `candidatesBefore`.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { isDigest, type Digest } from '../digest.js';
import type { LayoutPaths } from './layout-paths.js';
import { withIndexLock, readIndex } from './index-file.js';

export const DEFAULT_GC_GRACE_MS = 10 * 60_000;
const MAX_MANIFEST_BYTES = 4 << 20;

export interface GcOptions {
  /** Unreferenced blobs younger than this are kept (default 10 min). */
  gracePeriodMs?: number;
  /** Roots of images just untagged: their unreferenced blobs are removed regardless of age... */
  candidates?: Iterable<string>;
  /** ...unless modified after this time (ms since epoch; default: when gc starts). */
  candidatesBefore?: number;
  /** Report what would go without removing it. */
  dryRun?: boolean;
}

export interface GcResult {
  removed: Digest[];
  freedBytes: number;
}

interface BlobInfo {
  digest: Digest;
  path: string;
  size: number;
  mtimeMs: number;
}

export async function collectGarbage(paths: LayoutPaths, opts: GcOptions = {}): Promise<GcResult> {
  const now = Date.now();
  const grace = opts.gracePeriodMs ?? DEFAULT_GC_GRACE_MS;
  const candidatesBefore = opts.candidatesBefore ?? now;
  return withIndexLock(paths, async () => {
    const blobs = await listBlobs(paths);
    const doc = await readIndex(paths);
    const candidates = await closure(paths, opts.candidates ?? []);
    const expendable = (b: BlobInfo): boolean =>
      now - b.mtimeMs >= grace || (candidates.has(b.digest) && b.mtimeMs <= candidatesBefore);
    const young = [...blobs.values()].filter((b) => !expendable(b));
    const roots = [...doc.manifests.map((d) => d.digest), ...young.map((b) => b.digest)];
    const marked = await closure(paths, roots);
    await markReferrers(paths, blobs, marked);
    const result: GcResult = { removed: [], freedBytes: 0 };
    for (const b of blobs.values()) {
      if (marked.has(b.digest) || !expendable(b)) continue;
      if (!opts.dryRun) await fs.rm(b.path, { force: true });
      result.removed.push(b.digest);
      result.freedBytes += b.size;
    }
    if (!opts.dryRun) await sweepTemps(paths, grace, now);
    return result;
  });
}

/** Every stored blob by digest. */
async function listBlobs(paths: LayoutPaths): Promise<Map<string, BlobInfo>> {
  const out = new Map<string, BlobInfo>();
  const algorithms = await fs.readdir(paths.blobsDir).catch(() => [] as string[]);
  for (const algorithm of algorithms) {
    const dir = paths.algorithmDir(algorithm);
    for (const hex of await fs.readdir(dir).catch(() => [] as string[])) {
      const digest = `${algorithm}:${hex}`;
      if (!isDigest(digest)) continue; // not ours to judge
      const path = join(dir, hex);
      const st = await fs.stat(path).catch(() => undefined);
      if (st?.isFile()) out.set(digest, { digest, path, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  return out;
}

/** The digests reachable from `roots` (roots included, stored or not). */
async function closure(paths: LayoutPaths, roots: Iterable<string>): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const digest = queue.pop()!;
    if (seen.has(digest)) continue;
    seen.add(digest);
    const doc = await readJsonBlob(paths, digest);
    if (doc) queue.push(...children(doc));
  }
  return seen;
}

/** Marks manifests whose subject is marked (referrers: signatures, SBOMs), to a fixpoint. */
async function markReferrers(
  paths: LayoutPaths,
  blobs: Map<string, BlobInfo>,
  marked: Set<string>,
): Promise<void> {
  const subjects = new Map<string, string>();
  for (const b of blobs.values()) {
    if (marked.has(b.digest)) continue;
    const doc = await readJsonBlob(paths, b.digest);
    const subject = (doc?.subject as { digest?: unknown } | undefined)?.digest;
    if (typeof subject === 'string') subjects.set(b.digest, subject);
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (const [digest, subject] of subjects) {
      if (marked.has(digest) || !marked.has(subject)) continue;
      for (const d of await closure(paths, [digest])) marked.add(d);
      changed = true;
    }
  }
}

/** Parses a blob as a JSON object if it is small and starts like one; else undefined. */
async function readJsonBlob(
  paths: LayoutPaths,
  digest: string,
): Promise<Record<string, unknown> | undefined> {
  let handle;
  try {
    handle = await fs.open(paths.blob(digest), 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_MANIFEST_BYTES || size < 2) return undefined;
    const first = Buffer.alloc(1);
    await handle.read(first, 0, 1, 0);
    if (first[0] !== 0x7b /* { */) return undefined;
    const doc = JSON.parse((await handle.readFile()).toString('utf8')) as unknown;
    return doc && typeof doc === 'object' ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** Digests a manifest or index refers to (not its subject: that is the other direction). */
function children(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const add = (d: unknown): void => {
    const digest = (d as { digest?: unknown } | undefined)?.digest;
    if (typeof digest === 'string') out.push(digest);
  };
  add(doc.config);
  for (const key of ['layers', 'manifests', 'blobs']) {
    const list = doc[key];
    if (Array.isArray(list)) list.forEach(add);
  }
  return out;
}

/** A live writer's temp file is left alone this long even if it stalls (pid reuse guard). */
const LIVE_WRITER_MAX_AGE_MS = 24 * 3600_000;

/**
 * Removes temp files of writers that crashed: their process is gone (and the file is older than
 * a second, so a writer just starting in another pid namespace is not hit), or it is very old.
 */
async function sweepTemps(paths: LayoutPaths, grace: number, now: number): Promise<void> {
  for (const name of await fs.readdir(paths.ingestDir).catch(() => [] as string[])) {
    const path = join(paths.ingestDir, name);
    const st = await fs.stat(path).catch(() => undefined);
    if (!st) continue;
    const pid = Number(name.split('-')[0]);
    const age = now - st.mtimeMs;
    const dead = !(pid > 0) || !processAlive(pid);
    if ((dead && age >= Math.min(grace, 1000)) || age >= Math.max(grace, LIVE_WRITER_MAX_AGE_MS)) {
      await fs.rm(path, { force: true });
    }
  }
  for (const name of await fs.readdir(paths.root).catch(() => [] as string[])) {
    if (!/^index\.json\.(tmp-|lock\.stale-)/.test(name)) continue;
    const path = join(paths.root, name);
    const st = await fs.stat(path).catch(() => undefined);
    if (st && now - st.mtimeMs >= 60_000) await fs.rm(path, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
