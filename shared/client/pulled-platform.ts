// An image pulled for one platform, wanted for another (FROM in a multi-platform build, tsrun
// --platform): a pull tags the platform manifest it picked and notes the index it came from;
// another platform's manifest is then taken from that index, pulled by digest when it is not
// stored (so the tag keeps pointing where it did). The client loads only when pulling.
import type { Descriptor, Platform } from '../manifest.js';
import { parseManifest } from '../manifest.js';
import { INDEX_DIGEST_ANNOTATION } from '../media-types.js';
import { selectManifest } from '../platform.js';
import { formatName, parseReference } from '../reference.js';
import type { ContentStore } from '../store/content-store.js';

/**
 * The descriptor of `platform`'s manifest when `desc` (what `ref` is tagged to) is another
 * platform's manifest picked from an index at pull time; undefined when `desc` is already
 * right or was not pulled from an index.
 */
export async function pulledIndexEntry(
  store: ContentStore,
  ref: string,
  desc: Descriptor,
  platform: Platform,
): Promise<Descriptor | undefined> {
  const indexDigest = desc.annotations?.[INDEX_DIGEST_ANNOTATION];
  if (!indexDigest) return undefined;
  const byDigest = `${formatName(parseReference(ref))}@${indexDigest}`;
  const pull = async () => {
    const { pullImage } = await import('./transfer.js');
    await pullImage(store, byDigest, { platform });
  };
  if (!(await store.hasBlob(indexDigest))) await pull();
  const index = parseManifest(await store.readBlob(indexDigest));
  if (index.kind !== 'index') return undefined;
  const pick = selectManifest(index.manifest, platform);
  if (pick.digest === desc.digest) return undefined;
  if (!(await store.hasBlob(pick.digest))) await pull();
  return pick;
}
