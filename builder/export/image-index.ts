// A multi-platform build's result: one image manifest per target platform gathered in an OCI
// image index (what `docker buildx build --platform a,b` writes), each entry carrying its
// platform; and the image config made to name the platform it was built for.
import type { Descriptor, Platform } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import type { ContentStore } from '../../shared/store/content-store.js';
import type { OciImageConfig } from '../image/image-config.js';

export interface PlatformImage {
  manifest: Descriptor;
  platform: Platform;
}

/** Stores the index of `images` (in the order given); returns its descriptor. */
export async function writeImageIndex(
  store: ContentStore,
  images: PlatformImage[],
): Promise<{ manifest: Descriptor; config?: undefined }> {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((i) => ({
      mediaType: i.manifest.mediaType,
      digest: i.manifest.digest,
      size: i.manifest.size,
      platform: {
        architecture: i.platform.architecture,
        os: i.platform.os,
        ...(i.platform.variant ? { variant: i.platform.variant } : {}),
      },
    })),
  };
  return { manifest: await store.putJson(index, MediaType.OciIndex) };
}

/** `config` with os/architecture/variant of `p` (a copy; the keys keep their order). */
export function withPlatform(config: OciImageConfig, p: Platform): OciImageConfig {
  const c: OciImageConfig = { ...config, os: p.os, architecture: p.architecture };
  if (p.variant) c.variant = p.variant;
  else delete c.variant;
  return c;
}
