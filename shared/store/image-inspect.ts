// `docker image inspect`-shaped documents for stored images (tsinspect), and the names a stored
// image goes by (RepoTags / RepoDigests) in docker's familiar form.
import type { Descriptor, Platform } from '../manifest.js';
import { familiarName, familiarRepository, parseReference } from '../reference.js';
import type { ContentStore } from './content-store.js';
import { imageSize, loadImageByDescriptor, type LoadedImage } from './image.js';
import { indexPlatforms, loadShownImage } from './image-platforms.js';

/** Familiar tags (`busybox:latest`) and repo digests (`busybox@sha256:...`) of a manifest/index. */
export async function imageNames(
  store: ContentStore,
  digest: string,
): Promise<{ repoTags: string[]; repoDigests: string[] }> {
  const repoTags: string[] = [];
  const repoDigests = new Set<string>();
  for (const entry of await store.listImages()) {
    if (entry.descriptor.digest !== digest) continue;
    const ref = parseReference(entry.name);
    repoTags.push(familiarName(ref));
    repoDigests.add(`${familiarRepository(ref)}@${digest}`);
  }
  return { repoTags, repoDigests: [...repoDigests] };
}

/**
 * The inspect document of the image `ref` resolves to (for an index: `platform`'s image, else
 * this machine's or the first stored). Throws NotFoundError.
 */
export async function inspectImage(
  store: ContentStore,
  ref: string,
  platform?: Platform,
): Promise<Record<string, unknown>> {
  const desc = await store.resolve(ref);
  const image = platform
    ? await loadImageByDescriptor(store, desc, platform)
    : await loadShownImage(store, desc);
  const doc = await inspectDocument(store, desc, image);
  const platforms = await indexPlatforms(store, desc);
  // An index lists its platforms as docker's image inspect `Manifests` (containerd store).
  if (platforms)
    doc['Manifests'] = platforms.map((p) => ({
      ID: p.descriptor.digest,
      Descriptor: p.descriptor,
      Available: p.available,
      Size: { Content: p.size },
      Kind: 'image',
      ImageData: { Platform: p.descriptor.platform },
    }));
  return doc;
}

export async function inspectDocument(
  store: ContentStore,
  desc: Descriptor,
  image: LoadedImage,
): Promise<Record<string, unknown>> {
  const { repoTags, repoDigests } = await imageNames(store, desc.digest);
  const c = image.config;
  const history = c.history ?? [];
  return {
    Id: image.configDescriptor.digest,
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Parent: '',
    Comment: history.length > 0 ? (history[history.length - 1]!.comment ?? '') : '',
    Created: c.created ?? '0001-01-01T00:00:00Z',
    DockerVersion: '',
    Author: c.author ?? '',
    Config: c.config ?? {},
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: imageSize(image),
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    Descriptor: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size },
  };
}
