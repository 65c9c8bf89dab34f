// The platforms of a stored image, for tsimages and tsinspect: an index's entries (platform,
// manifest digest, whether its blobs are here and its size), attestations left out; and the
// image to show for an index when this machine's platform is not in it (the first one stored).
import { NotFoundError } from '../errors.js';
import { parseManifest, type Descriptor, type ImageIndex, type Platform } from '../manifest.js';
import { formatPlatform, isAttestation } from '../platform.js';
import type { ContentStore } from './content-store.js';
import { imageSize, loadImageByDescriptor, type LoadedImage } from './image.js';

export interface PlatformEntry {
  /** `linux/arm64` */
  platform: string;
  descriptor: Descriptor;
  /** The manifest, config and layers are all in the store. */
  available: boolean;
  /** Compressed layers + config, as `docker images` (0 when not available). */
  size: number;
}

/** The entries of `desc` when it is an index; undefined for a single-platform manifest. */
export async function indexPlatforms(
  store: ContentStore,
  desc: Descriptor,
): Promise<PlatformEntry[] | undefined> {
  const parsed = parseManifest(await store.readBlob(desc.digest), desc.mediaType);
  if (parsed.kind !== 'index') return undefined;
  const out: PlatformEntry[] = [];
  for (const d of runnableEntries(parsed.manifest)) {
    let size = 0;
    let available = false;
    try {
      const image = await loadImageByDescriptor(store, d);
      const blobs = [image.manifest.config, ...image.manifest.layers];
      available = (await Promise.all(blobs.map((b) => store.hasBlob(b.digest)))).every(Boolean);
      size = available ? imageSize(image) : 0;
    } catch {
      // manifest not stored: a platform that was not pulled
    }
    out.push({ platform: formatPlatform(d.platform!), descriptor: d, available, size });
  }
  return out;
}

/**
 * The image shown for `desc`: this machine's platform, else (an index without it) the first
 * platform whose manifest is stored. Throws NotFoundError when none is.
 */
export async function loadShownImage(store: ContentStore, desc: Descriptor): Promise<LoadedImage> {
  try {
    return await loadImageByDescriptor(store, desc);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    const entries = await indexPlatforms(store, desc).catch(() => undefined);
    const first = entries?.find((e) => e.available);
    if (!first) throw err;
    return loadImageByDescriptor(store, desc, first.descriptor.platform as Platform);
  }
}

function runnableEntries(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((d) => d.platform !== undefined && !isAttestation(d));
}
