// How a manifest write and online GC agree on what may be deleted, through the MetadataStore so
// that it holds when several processes share one store. Each side writes its mark, then reads
// the other side's (Dekker's protocol; the store orders the operations):
//   writer: putHold(refs) -> wait until none of refs is condemned -> check the refs exist ->
//           putManifest -> deleteHold
//   GC:     condemn(candidates) -> read holds -> re-mark from every manifest record ->
//           delete candidates neither held nor marked -> pardon(candidates)
// If the writer saw no condemnation, its hold was written before the GC read holds, so the GC
// either sees the hold or (the hold being gone) the manifest it guarded. If the writer saw one,
// it waits for the pardon and then checks existence afresh: the blob is there, or it is gone and
// the write is refused (MANIFEST_BLOB_UNKNOWN). An acknowledged manifest never loses a blob.
// Blob uploads and mounts take the same kind of hold (touchReferences) and leave it to expire.
import { randomUUID } from 'node:crypto';
import { RegistryError } from './errors.js';
import type { MetadataStore } from './metadata/store.js';

/** A hold older than this is a crashed writer's: GC ignores and removes it. */
export const HOLD_TTL_MS = 10 * 60_000;
/** A writer that held its references longer than this gives up rather than trust its hold. */
const HOLD_USE_MS = HOLD_TTL_MS / 2;
/** How long a writer waits for GC to pardon a digest it needs. */
const CONDEMNED_WAIT_MS = 60_000;
const POLL_MS = 5;

/**
 * Runs `write` while `digests` are held: GC deletes none of them meanwhile. `write` checks that
 * they exist, then calls `commit` right before recording what references them.
 */
export async function withReferencesHeld<T>(
  meta: MetadataStore,
  digests: string[],
  write: (commit: () => void) => Promise<T>,
): Promise<T> {
  const hold = { id: randomUUID(), digests, at: Date.now() };
  await meta.putHold(hold);
  try {
    await whileCondemned(meta, digests, hold.at + CONDEMNED_WAIT_MS);
    return await write(() => {
      if (Date.now() - hold.at > HOLD_USE_MS)
        throw new RegistryError('UNAVAILABLE', 'the write took too long to be safe from GC');
    });
  } finally {
    await meta.deleteHold(hold.id);
  }
}

/** Id prefix of the holds touchReferences leaves behind. */
const TOUCH = 'touch:';

/**
 * Marks `digests` as just put to use by a blob upload or a mount, for every process sharing the
 * store: the hold is left to expire, and keeps them from a collection that began before it (as
 * gc-guard.ts's touches do within one process; clocks of replicas must agree). Waits while GC has any of them condemned, so that what the caller checks or
 * writes next is either seen by the collector (the hold came first) or comes after its batch.
 */
export async function touchReferences(meta: MetadataStore, digests: string[]): Promise<void> {
  const at = Date.now();
  await meta.putHold({ id: `${TOUCH}${randomUUID()}`, digests, at });
  await whileCondemned(meta, digests, at + CONDEMNED_WAIT_MS);
}

async function whileCondemned(meta: MetadataStore, digests: string[], deadline: number) {
  while ((await meta.condemned(digests)).length > 0) {
    if (Date.now() > deadline)
      throw new RegistryError('UNAVAILABLE', 'garbage collection holds a referenced blob', {
        retry: 'later',
      });
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Digests held by live writers, and by uploads and mounts since `runStarted`; holds of crashed
 * writers (older than HOLD_TTL_MS) and expired touches are removed.
 */
export async function heldDigests(meta: MetadataStore, runStarted = 0): Promise<Set<string>> {
  const held = new Set<string>();
  const stale: string[] = [];
  const now = Date.now();
  for await (const h of meta.allHolds()) {
    if (now - h.at > HOLD_TTL_MS) stale.push(h.id);
    else if (h.id.startsWith(TOUCH) && h.at < runStarted) continue;
    else for (const d of h.digests) held.add(d);
  }
  for (const id of stale) await meta.deleteHold(id);
  return held;
}
