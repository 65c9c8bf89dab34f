// docker rmi semantics over the store: a name is untagged; when no name is left for the image,
// it is deleted (its index.json entries dropped and its blobs collected at once, except blobs
// other images share or a concurrent writer touched). An id with several names needs force.
import { InvalidInputError, TsdockError } from '../errors.js';
import { familiarName, parseReference } from '../reference.js';
import type { ContentStore } from './content-store.js';
import { normalizeTagRef } from './resolve.js';

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/** Used by a container: the runner's check, so an image in use is not removed without force. */
export type InUseCheck = (manifestDigest: string) => Promise<string | undefined>;

export async function removeImage(
  store: ContentStore,
  ref: string,
  opts: { force?: boolean; inUse?: InUseCheck } = {},
): Promise<RemoveResult> {
  const desc = await store.resolve(ref);
  const images = await store.listImages();
  const names = images.filter((i) => i.descriptor.digest === desc.digest).map((i) => i.name);
  const byName = tagName(ref, names);
  const result: RemoveResult = { untagged: [], deleted: [] };
  if (!byName && names.length > 1 && !opts.force) {
    throw new InvalidInputError(
      `conflict: unable to delete ${ref} (must be forced) - image is referenced in multiple repositories`,
      'remove the names one by one, or use -f',
    );
  }
  const remaining = byName ? names.filter((n) => n !== byName) : [];
  if (remaining.length === 0 && !opts.force) {
    const container = await opts.inUse?.(desc.digest);
    if (container) {
      throw new TsdockError(
        `conflict: unable to remove ${ref} (must force) - container ${container} is using its referenced image`,
        'remove the container first (tsrm), or use -f',
      );
    }
  }
  const startedAt = Date.now();
  for (const n of byName ? [byName] : names) {
    await store.untag(n);
    result.untagged.push(familiarName(parseReference(n)));
  }
  if (remaining.length > 0) return result;
  await store.untagDigest(desc.digest);
  const gc = await store.gc({ candidates: [desc.digest], candidatesBefore: startedAt });
  result.deleted = gc.removed;
  return result;
}

/** The stored name `ref` spells, if it is a name (not an id or digest). */
function tagName(ref: string, names: string[]): string | undefined {
  try {
    const n = normalizeTagRef(ref);
    return names.includes(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
