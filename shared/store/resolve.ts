// How a user's image argument maps to a stored manifest: a reference (`busybox`,
// `host:5000/a/b:v1`, `name@sha256:...`), a digest, or an image id prefix like docker's
// `rmi 3f2a` (ids are config digests, as docker's IMAGE ID; manifest digests match too; the
// platform images of a stored index are found by their ids as well).
import { isDigest, type Digest } from '../digest.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { Descriptor } from '../manifest.js';
import { MediaType, REF_NAME_ANNOTATION } from '../media-types.js';
import { formatReference, parseReference } from '../reference.js';
import type { IndexDocument } from './index-file.js';

/** What resolving reads of a store (ContentStore is one; no import of it, no cycle). */
export interface ResolvableStore {
  readIndex(): Promise<IndexDocument>;
  statBlob(digest: Digest | string): Promise<number | undefined>;
  readBlob(digest: Digest | string): Promise<Buffer>;
}

const ID_PREFIX_RE = /^(?:sha256:)?([0-9a-f]{4,64})$/;

/** The full reference stored in index.json for a tag argument; digests are refused. */
export function normalizeTagRef(ref: string): string {
  const r = parseReference(ref);
  if (r.digest) {
    throw new InvalidInputError(
      `cannot tag or untag by digest: ${ref}`,
      'give a name with an optional :tag, e.g. busybox:latest',
    );
  }
  return formatReference({ ...r, tag: r.tag ?? 'latest' });
}

export async function resolveInStore(store: ResolvableStore, ref: string): Promise<Descriptor> {
  if (isDigest(ref)) return byId(store, ref, ref);
  const idMatch = ID_PREFIX_RE.exec(ref);
  let parsed: ReturnType<typeof parseReference> | undefined;
  try {
    parsed = parseReference(ref);
  } catch (err) {
    if (!idMatch) throw err;
  }
  if (parsed?.digest) {
    const found = await byId(store, parsed.digest, ref);
    return found;
  }
  if (parsed) {
    const name = formatReference({ ...parsed, tag: parsed.tag ?? 'latest' });
    const doc = await store.readIndex();
    const entry = doc.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === name);
    if (entry) return entry;
  }
  if (idMatch) return byId(store, idMatch[1]!, ref);
  throw noSuchImage(ref);
}

/** Finds an image by full digest or hex prefix of its manifest or config digest. */
async function byId(store: ResolvableStore, id: string, original: string): Promise<Descriptor> {
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  const full = hex.length === 64;
  const doc = await store.readIndex();
  const matches = new Map<string, Descriptor>();
  for (const d of (await Promise.all(doc.manifests.map((e) => withPlatforms(store, e)))).flat()) {
    const ids = [d.digest, await configDigestOf(store, d)].filter(Boolean) as string[];
    const hit = ids.some((x) => (full ? x === `sha256:${hex}` : x.startsWith(`sha256:${hex}`)));
    if (hit && !matches.has(d.digest)) matches.set(d.digest, d);
  }
  if (matches.size > 1) {
    throw new InvalidInputError(
      `image id prefix "${original}" is ambiguous (${matches.size} images)`,
      'give more characters of the id',
    );
  }
  const [only] = matches.values();
  if (only) return only;
  // An untagged manifest that is still stored (e.g. name@digest after a pull).
  if (full && isDigest(`sha256:${hex}`)) {
    const digest = `sha256:${hex}` as Digest;
    const mediaType = await manifestMediaType(store, digest);
    if (mediaType)
      return { mediaType, digest, size: (await store.statBlob(digest))! } as Descriptor;
  }
  throw noSuchImage(original);
}

/**
 * An entry of index.json and, when it is an image index, its stored platform manifests: their
 * ids are what tsimages shows and what a container from another platform records.
 */
async function withPlatforms(store: ResolvableStore, d: Descriptor): Promise<Descriptor[]> {
  try {
    const m = JSON.parse((await store.readBlob(d.digest)).toString('utf8')) as {
      manifests?: Descriptor[];
    };
    if (!Array.isArray(m.manifests)) return [d];
    const stored = await Promise.all(
      m.manifests.map(async (c) => ((await store.statBlob(c.digest)) === undefined ? [] : [c])),
    );
    return [d, ...stored.flat()];
  } catch {
    return [d];
  }
}

async function configDigestOf(store: ResolvableStore, d: Descriptor): Promise<string | undefined> {
  try {
    const m = JSON.parse((await store.readBlob(d.digest)).toString('utf8')) as {
      config?: { digest?: string };
    };
    return m.config?.digest;
  } catch {
    return undefined;
  }
}

async function manifestMediaType(
  store: ResolvableStore,
  digest: Digest,
): Promise<string | undefined> {
  const size = await store.statBlob(digest);
  if (size === undefined || size > 4 << 20) return undefined;
  try {
    const m = JSON.parse((await store.readBlob(digest)).toString('utf8')) as {
      mediaType?: string;
      manifests?: unknown;
      layers?: unknown;
    };
    if (m.mediaType) return m.mediaType;
    if (Array.isArray(m.manifests)) return MediaType.OciIndex;
    if (Array.isArray(m.layers)) return MediaType.OciManifest;
  } catch {
    // not JSON: not a manifest
  }
  return undefined;
}

function noSuchImage(ref: string): NotFoundError {
  return new NotFoundError(`No such image: ${ref}`, 'see tsimages, or tspull it');
}
