// An image as stored: reference -> (index -> platform manifest) -> manifest + config. What
// tsrun, tsbuild FROM, tsinspect and tsimages read; ids are config digests, as docker's IMAGE ID.
import type { Digest } from '../digest.js';
import { InvalidInputError } from '../errors.js';
import {
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from '../manifest.js';
import { currentPlatform, selectManifest } from '../platform.js';
import type { ContentStore } from './content-store.js';

export interface LoadedImage {
  /** The single-platform manifest's descriptor. */
  descriptor: Descriptor;
  /** The index it was picked from, when the reference named a multi-platform index. */
  indexDescriptor?: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  configDescriptor: Descriptor;
}

/** Loads an image by reference, digest or id prefix; an index resolves to `platform`'s manifest. */
export async function loadImage(
  store: ContentStore,
  refOrDigest: string,
  platform: Platform = currentPlatform(),
): Promise<LoadedImage> {
  return loadImageByDescriptor(store, await store.resolve(refOrDigest), platform);
}

/** Like loadImage, from a descriptor already resolved. */
export async function loadImageByDescriptor(
  store: ContentStore,
  desc: Descriptor,
  platform: Platform = currentPlatform(),
): Promise<LoadedImage> {
  let parsed = parseManifest(await store.readBlob(desc.digest), desc.mediaType);
  let descriptor = desc;
  let indexDescriptor: Descriptor | undefined;
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth > 4) throw new InvalidInputError(`index ${desc.digest} nests too deeply`);
    indexDescriptor ??= desc;
    descriptor = selectManifest(parsed.manifest, platform);
    parsed = parseManifest(await store.readBlob(descriptor.digest), descriptor.mediaType);
  }
  const manifest = parsed.manifest;
  const config = parseImageConfig(await store.readBlob(manifest.config.digest));
  return {
    descriptor: stripRefName(descriptor),
    ...(indexDescriptor ? { indexDescriptor: stripRefName(indexDescriptor) } : {}),
    manifest,
    config,
    configDescriptor: manifest.config,
  };
}

/** Docker's image size: compressed layers plus the config, as `docker images` shows. */
export function imageSize(image: { manifest: ImageManifest }): number {
  return image.manifest.layers.reduce((n, l) => n + l.size, image.manifest.config.size);
}

/** The 12-hex short id docker prints (IMAGE ID), from a config digest. */
export function shortId(configDigest: Digest | string): string {
  const hex = configDigest.includes(':') ? configDigest.split(':')[1]! : configDigest;
  return hex.slice(0, 12);
}

function stripRefName(d: Descriptor): Descriptor {
  if (!d.annotations) return d;
  const { annotations: _drop, ...rest } = d;
  return rest;
}
