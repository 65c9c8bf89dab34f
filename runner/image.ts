// Image -> what running needs: the config (cmd, env, user...) and the layers to unpack.
// Adapter over the store and client modules (pulls when the image is missing locally); loaded
// lazily so runs of a directory (--rootfs) never load the store.
import type { ImageRunConfig } from './spec.js';
import type { LayerSource } from './rootfs.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError } from '../shared/errors.js';
import { REF_NAME_ANNOTATION } from '../shared/media-types.js';

export interface RunnableImage {
  /** config digest: the image id */
  id: string;
  /** the whole image config document */
  configDocument: Record<string, unknown>;
  config: ImageRunConfig;
  layers: LayerSource[];
}

/**
 * docker's normalisation for plain `[domain/]path[:tag]` references (busybox ->
 * docker.io/library/busybox:latest), without loading shared/reference.ts (whose digest module
 * pulls in node:crypto: milliseconds on every start). Anything unusual returns undefined and
 * takes the store's full resolution instead.
 */
export function fastRefName(ref: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._/:-]*$/.test(ref) || ref.includes('//')) return undefined;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? ref.slice(0, colon) : ref;
  const tag = hasTag ? ref.slice(colon + 1) : 'latest';
  if (!/^[a-z0-9_][a-z0-9_.-]{0,127}$/.test(tag) || (name.includes(':') && !name.includes('/'))) {
    return undefined;
  }
  const parts = name.split('/');
  const first = parts[0]!;
  const isDomain =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = isDomain ? first : 'docker.io';
  const path = isDomain ? parts.slice(1) : parts;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (path.some((c) => !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c))) return undefined;
  if (domain === 'docker.io' && path.length === 1) path.unshift('library');
  return `${domain}/${path.join('/')}:${tag}`;
}

interface RawManifest {
  mediaType?: string;
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}

/**
 * The start-latency fast path: a tag whose manifest is single-platform and whose layers are all
 * unpacked already is read straight from the OCI layout (index.json -> manifest -> config blobs,
 * content-addressed and verified when they were stored), without loading the store modules.
 * Anything else (digests, ids, indexes, missing layers) returns undefined: the full path runs.
 */
export function fastRunnableImage(
  ref: string,
  storeRoot: string,
  layersRoot: string,
  refName: string,
) {
  if (ref.includes('@') || /^[0-9a-f]{12,64}$/.test(ref) || ref.startsWith('sha256:'))
    return undefined;
  try {
    const index = JSON.parse(readFileSync(join(storeRoot, 'index.json'), 'utf8')) as {
      manifests: { mediaType: string; digest: string; annotations?: Record<string, string> }[];
    };
    const entry = index.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === refName);
    if (!entry || !/manifest/.test(entry.mediaType)) return undefined;
    const blob = (d: string) => readFileSync(join(storeRoot, 'blobs', ...d.split(':')), 'utf8');
    const manifest = JSON.parse(blob(entry.digest)) as RawManifest;
    const doc = JSON.parse(blob(manifest.config.digest)) as Record<string, unknown> & {
      config?: ImageRunConfig;
      rootfs?: { diff_ids?: string[] };
    };
    const diffIds = doc.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) return undefined;
    const dirs = diffIds.map((d) => join(layersRoot, d.replace(/^sha256:/, '')));
    if (!dirs.every((d) => existsSync(d))) return undefined;
    return { id: manifest.config.digest, configDocument: doc, config: doc.config ?? {}, dirs };
  } catch {
    return undefined;
  }
}

/**
 * Loads an image from the local store, pulling it first when it is not there; `platform`
 * (tsrun --platform) picks from an index and must match a single-platform image.
 */
export async function loadRunnableImage(ref: string, platform?: string): Promise<RunnableImage> {
  const { ContentStore } = await import('../shared/store/content-store.js');
  const { loadImage, loadImageByDescriptor } = await import('../shared/store/image.js');
  const { parsePlatform } = await import('../shared/platform.js');
  const want = platform !== undefined ? parsePlatform(platform) : undefined;
  const store = await ContentStore.open();
  let image;
  try {
    image = await loadImage(store, ref, want);
  } catch (err) {
    if (!(err instanceof NotFoundError) || !(await isMissing(store, ref))) throw err;
    process.stderr.write(`Unable to find image '${ref}' locally, pulling\n`);
    // in-process: the client trusts the CA file tsrun's shebang set aside (shared/tls-trust)
    const { pullImage } = await import('../shared/client/transfer.js');
    await pullImage(store, ref, want ? { platform: want } : {});
    image = await loadImage(store, ref, want);
  }
  if (want) {
    const { pulledIndexEntry } = await import('../shared/client/pulled-platform.js');
    const other = await pulledIndexEntry(store, ref, await store.resolve(ref), want);
    if (other) image = await loadImageByDescriptor(store, other, want);
    const { checkImagePlatform } = await import('../shared/emulation.js');
    checkImagePlatform(ref, image.config, want);
  }
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  const layers = image.manifest.layers.map((l, i) => ({
    diffId: diffIds[i] ?? l.digest,
    mediaType: l.mediaType,
    open: async () => store.openBlob(l.digest),
  }));
  return {
    id: image.manifest.config.digest,
    configDocument: image.config as unknown as Record<string, unknown>,
    config: (image.config.config ?? {}) as ImageRunConfig,
    layers,
  };
}

/** Whether `ref` is absent from the store (rather than present without the wanted platform). */
async function isMissing(
  store: { resolve(ref: string): Promise<unknown> },
  ref: string,
): Promise<boolean> {
  try {
    await store.resolve(ref);
    return false;
  } catch (err) {
    if (err instanceof NotFoundError) return true;
    throw err;
  }
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };

/**
 * An image for another architecture runs only through QEMU emulation: a one-line error when
 * it is missing (the module that checks is loaded only for foreign images).
 */
export async function requireRunnablePlatform(doc: Record<string, unknown>): Promise<void> {
  const arch = doc['architecture'];
  if (typeof arch !== 'string' || arch === '' || arch === NODE_ARCH[process.arch]) return;
  const { requireEmulation } = await import('../shared/emulation.js');
  const variant = typeof doc['variant'] === 'string' ? doc['variant'] : undefined;
  await requireEmulation({
    os: typeof doc['os'] === 'string' ? doc['os'] : 'linux',
    architecture: arch,
    ...(variant ? { variant } : {}),
  });
}
