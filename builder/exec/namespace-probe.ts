// Rootless builds try the cache first as the plain user (no second process): plan, cache keys
// and lookups need nothing of root. Whatever must act as root of the user's namespace (a step
// that runs, a layer or an archive to unpack with its owners) calls needsNamespace instead,
// and tsbuild re-executes itself in the namespace to do the whole build there.
// The ids a plain user sees on files made in the namespace are host ids: namespaceOwners()
// gives them back as the namespace sees them, so cache keys are the same from either side.
import type { Stats } from 'node:fs';

/** A cache-only build: what first needed the namespace (errors may be rewrapped on the way). */
export interface CacheOnlyProbe {
  blocked?: string;
}

/** Stops a cache-only build: WHAT needs root of the user's namespace. */
export function needsNamespace(probe: CacheOnlyProbe, what: string): never {
  probe.blocked ??= what;
  throw new Error(`rootless: ${what} needs the user namespace`);
}

/** Host owner ids -> the ids root of the user's namespace sees. */
export type OwnerMap = (st: Stats) => Stats;

/** The owner map of this process: undefined for root (in a namespace or not). */
export async function namespaceOwners(): Promise<OwnerMap | undefined> {
  if (process.getuid?.() === 0) return undefined;
  const ids = await (await import('../../runner/executor.js')).namespaceIdTranslator();
  return (st) => {
    const mapped = Object.create(Object.getPrototypeOf(st) as object) as Stats;
    return Object.assign(mapped, st, { uid: ids.uid(st.uid), gid: ids.gid(st.gid) });
  };
}
