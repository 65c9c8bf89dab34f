// Import of image archives into the store (`tsload`): an OCI image layout (directory or tar, as
// skopeo, umoci, buildah or `docker save` >= 25 write them) or a legacy `docker save` tar
// (manifest.json with Config/RepoTags/Layers). Every blob is verified against its digest; names
// come from io.containerd.image.name, a full reference in ref.name, RepoTags, or opts.refs.
import type { Readable } from 'node:stream';
import { InvalidInputError } from '../errors.js';
import type { Descriptor } from '../manifest.js';
import {
  MediaType,
  REF_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
} from '../media-types.js';
import { formatReference, tryParseReference } from '../reference.js';
import type { ContentStore } from './content-store.js';
import { updateIndex } from './index-file.js';
import { openLayoutSource, scanTar, type LayoutSource } from './layout-source.js';

export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

export interface ImportOptions {
  /** Names to give the imported image (the archive must then hold exactly one). */
  refs?: string[];
}

export interface ImportedImage {
  descriptor: Descriptor;
  /** Full references now pointing at it (empty: stored untagged, kept by its digest). */
  names: string[];
}

/** Imports a layout directory or an archive file. */
export async function importLayout(
  store: ContentStore,
  path: string,
  opts: ImportOptions = {},
): Promise<ImportedImage[]> {
  return importFromSource(store, await openLayoutSource(store, path), opts);
}

/** Imports a tar (or tar.gz) read from a stream, e.g. stdin. */
export async function importLayoutStream(
  store: ContentStore,
  input: Readable,
  opts: ImportOptions = {},
): Promise<ImportedImage[]> {
  return importFromSource(store, await scanTar(store, input), opts);
}

async function importFromSource(
  store: ContentStore,
  source: LayoutSource,
  opts: ImportOptions,
): Promise<ImportedImage[]> {
  const index = await source.file('index.json');
  const legacy = await source.file('manifest.json');
  let images: { descriptor: Descriptor; names: string[] }[];
  if (index) images = await importOci(store, source, parseJson(index, 'index.json'));
  else if (legacy)
    images = await importDockerSave(store, source, parseJson(legacy, 'manifest.json'));
  else {
    throw new InvalidInputError(
      'not an image archive: neither index.json nor manifest.json found',
      'give an OCI image layout (directory or tar) or a `docker save` tar',
    );
  }
  if (opts.refs && opts.refs.length > 0) {
    const distinct = new Set(images.map((i) => i.descriptor.digest));
    if (distinct.size !== 1) {
      throw new InvalidInputError(
        `the archive holds ${distinct.size} images; names can only be given for one`,
        'import without names, then tstag',
      );
    }
    images = [{ descriptor: images[0]!.descriptor, names: opts.refs }];
  }
  return record(store, images);
}

/** Tags named images; keeps unnamed ones in index.json by digest so gc leaves them. */
async function record(store: ContentStore, images: ImportedImage[]): Promise<ImportedImage[]> {
  const out: ImportedImage[] = [];
  for (const img of images) {
    const descriptor = plainDescriptor(img.descriptor);
    const names: string[] = [];
    for (const n of img.names) {
      await store.tag(n, descriptor);
      names.push(formatReference(tryParseReference(n)!));
    }
    if (names.length === 0) await keepUntagged(store, descriptor);
    out.push({ descriptor, names });
  }
  return out;
}

async function keepUntagged(store: ContentStore, desc: Descriptor): Promise<void> {
  await updateIndex(store.paths, async (doc) => {
    if (doc.manifests.some((d) => d.digest === desc.digest)) return { result: undefined };
    return { doc: { ...doc, manifests: [...doc.manifests, desc] }, result: undefined };
  });
}

async function importOci(
  store: ContentStore,
  source: LayoutSource,
  index: { manifests?: Descriptor[] },
): Promise<ImportedImage[]> {
  if (!Array.isArray(index.manifests))
    throw new InvalidInputError('index.json: "manifests" must be an array');
  const out: ImportedImage[] = [];
  for (const desc of index.manifests) {
    await importTree(store, source, desc, false);
    out.push({ descriptor: desc, names: namesOf(desc) });
  }
  return out;
}

/** Imports a manifest or index and everything it references (an index's missing platforms are allowed). */
async function importTree(
  store: ContentStore,
  source: LayoutSource,
  desc: Descriptor,
  optional: boolean,
): Promise<void> {
  try {
    await source.importBlob(desc);
  } catch (err) {
    if (optional) return;
    throw err;
  }
  if (!isManifestMediaType(desc.mediaType)) return;
  const doc = parseJson(await store.readBlob(desc.digest), `manifest ${desc.digest}`) as {
    config?: Descriptor;
    layers?: Descriptor[];
    manifests?: Descriptor[];
  };
  if (isIndexMediaType(desc.mediaType)) {
    for (const child of doc.manifests ?? []) await importTree(store, source, child, true);
    return;
  }
  if (!doc.config || !Array.isArray(doc.layers)) {
    throw new InvalidInputError(`manifest ${desc.digest} lacks config or layers`);
  }
  await source.importBlob(doc.config);
  for (const layer of doc.layers) await source.importBlob(layer);
}

/** Names an index.json entry carries: a containerd name, or a ref.name that is a full reference. */
function namesOf(desc: Descriptor): string[] {
  const a = desc.annotations ?? {};
  const candidates = [a[CONTAINERD_NAME_ANNOTATION], a[REF_NAME_ANNOTATION]];
  for (const c of candidates) {
    if (c && /[:/]/.test(c) && tryParseReference(c)?.tag) return [c];
  }
  return [];
}

interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Legacy `docker save`: builds an OCI manifest over the config and layer files. */
async function importDockerSave(
  store: ContentStore,
  source: LayoutSource,
  entries: DockerSaveEntry[],
): Promise<ImportedImage[]> {
  if (!Array.isArray(entries)) throw new InvalidInputError('manifest.json must be an array');
  const out: ImportedImage[] = [];
  for (const e of entries) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) {
      throw new InvalidInputError('manifest.json: each entry needs "Config" and "Layers"');
    }
    const config = await source.importFile(e.Config);
    const layers: Descriptor[] = [];
    for (const path of e.Layers) {
      const blob = await source.importFile(path);
      layers.push({ mediaType: await layerMediaType(store, blob.digest), ...blob } as Descriptor);
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, ...config },
      layers,
    };
    const descriptor = await store.putJson(manifest, MediaType.OciManifest);
    out.push({ descriptor, names: (e.RepoTags ?? []).filter((t) => tryParseReference(t)) });
  }
  return out;
}

async function layerMediaType(store: ContentStore, digest: string): Promise<string> {
  const stream = store.openBlob(digest, {});
  const head: Buffer | undefined = await new Promise((resolve) => {
    stream.once('data', (c) => resolve(c as Buffer));
    stream.once('end', () => resolve(undefined));
    stream.once('error', () => resolve(undefined));
  });
  stream.destroy();
  return head && head[0] === 0x1f && head[1] === 0x8b ? MediaType.OciLayerGzip : MediaType.OciLayer;
}

function plainDescriptor(d: Descriptor): Descriptor {
  const { annotations: _a, ...rest } = d;
  return rest as Descriptor;
}

function parseJson<T = never>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    throw new InvalidInputError(`${what} is not valid JSON`, 'the archive is corrupt');
  }
}
