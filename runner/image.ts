// Image -> what running needs: the config (cmd, env, user...) and the layers to unpack.
// Adapter over the store and client modules (pulls when the image is missing locally); kept
// separate so the run path imports the store only when it actually runs an image.
import type { Readable } from 'node:stream';
import type { ImageRunConfig } from './spec.js';
import type { LayerSource } from './rootfs.js';

export interface RunnableImage {
  /** config digest: the image id */
  id: string;
  /** the whole image config document (carried over by tscommit) */
  configDocument: Record<string, unknown>;
  config: ImageRunConfig;
  layers: LayerSource[];
}

// Written concurrently by the store and client helpers; named through constants so this module
// compiles before they land (their shapes are declared locally below).
const STORE_MODULE = '../shared/store/content-store.js';
const IMAGE_MODULE = '../shared/store/image.js';
const TRANSFER_MODULE = '../shared/client/transfer.js';

interface Descriptor {
  digest: string;
  mediaType: string;
  size?: number;
}
interface StoreLike {
  openBlob(digest: string): Readable | Promise<Readable>;
}
interface LoadedImage {
  descriptor?: Descriptor;
  manifest: { config: Descriptor; layers: Descriptor[] };
  config: { config?: ImageRunConfig; rootfs?: { diff_ids?: string[] } } & Record<string, unknown>;
}

/** Opens the local store (shared with tsbuild/tspull). */
export async function openStore(): Promise<StoreLike> {
  const { ContentStore } = (await import(STORE_MODULE)) as unknown as {
    ContentStore: { open(): Promise<StoreLike> };
  };
  return ContentStore.open();
}

/** Loads an image from the store, pulling it first when it is not there. */
export async function loadRunnableImage(ref: string): Promise<RunnableImage> {
  const store = await openStore();
  const { loadImage } = (await import(IMAGE_MODULE)) as unknown as {
    loadImage(s: StoreLike, ref: string): Promise<LoadedImage>;
  };
  let image: LoadedImage;
  try {
    image = await loadImage(store, ref);
  } catch (err) {
    if ((err as Error).name !== 'NotFoundError' && !/not found|no such/i.test(String(err)))
      throw err;
    const { pullImage } = (await import(TRANSFER_MODULE)) as unknown as {
      pullImage(s: StoreLike, ref: string): Promise<unknown>;
    };
    process.stderr.write(`Unable to find image '${ref}' locally, pulling\n`);
    await pullImage(store, ref);
    image = await loadImage(store, ref);
  }
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  const layers = image.manifest.layers.map((l, i) => ({
    diffId: diffIds[i] ?? l.digest,
    mediaType: l.mediaType,
    open: async () => store.openBlob(l.digest),
  }));
  return {
    id: image.manifest.config.digest,
    configDocument: image.config,
    config: image.config.config ?? {},
    layers,
  };
}
