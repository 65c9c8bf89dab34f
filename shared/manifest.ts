// Manifest, index, descriptor and image-config types (OCI image-spec v1.1 and Docker schema2),
// with validation that names the offending field: `manifest.layers[2].digest: invalid digest`.
import { type Digest, digestOf, parseDigest } from './digest.js';
import { InvalidInputError, InvalidManifestError } from './errors.js';
import {
  asObject,
  digestField,
  field,
  optString,
  parseJsonObject,
  quote,
  reqString,
  show,
  stringArray,
  stringMap,
} from './json-check.js';
import { MediaType } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  /** Base64 of the content itself (embedded small blobs). */
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: ImageIndex };

/** The largest manifest accepted (distribution's limit). */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;

const SCHEMA1_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];
/** Content types that say nothing about the manifest kind. */
const GENERIC_TYPES = ['', 'application/json', 'application/octet-stream', 'text/plain'];
const MANIFEST_TYPES = [MediaType.OciManifest, MediaType.DockerManifest] as string[];
const INDEX_TYPES = [MediaType.OciIndex, MediaType.DockerManifestList] as string[];
// RFC 6838 type/subtype (with +suffix), no parameters.
const MEDIA_TYPE_RE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** Parses and validates a manifest or index; InvalidManifestError names the field that is wrong. */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  try {
    return parseManifestDocument(bytes, contentType);
  } catch (err) {
    if (err instanceof InvalidInputError && !(err instanceof InvalidManifestError))
      throw new InvalidManifestError(err.message, err.hint, err.exitCode, { cause: err });
    throw err;
  }
}

function parseManifestDocument(bytes: Buffer, contentType?: string): ParsedManifest {
  const doc = parseJsonObject(bytes, 'manifest');
  const declared = stripParams(contentType);
  const bodyType = optString(doc, 'mediaType', 'manifest');
  if (doc['schemaVersion'] === 1 || SCHEMA1_TYPES.includes(bodyType ?? declared)) {
    throw new InvalidInputError(
      'manifest: Docker schema1 manifests are not supported',
      'push the image again with a current client (schema2 or OCI)',
    );
  }
  if (doc['schemaVersion'] !== 2) {
    throw field('manifest.schemaVersion', `must be 2, got ${show(doc['schemaVersion'])}`);
  }
  const given = GENERIC_TYPES.includes(declared) ? undefined : declared;
  if (given !== undefined && !MANIFEST_TYPES.includes(given) && !INDEX_TYPES.includes(given)) {
    throw new InvalidInputError(
      `manifest: unsupported content type ${quote(given)}`,
      'expected an OCI or Docker schema2 manifest or index media type',
    );
  }
  if (bodyType !== undefined && given !== undefined && bodyType !== given) {
    throw field(
      'manifest.mediaType',
      `${quote(bodyType)} does not match the content type ${quote(given)}`,
    );
  }
  const mediaType = bodyType ?? given ?? inferType(doc);
  if (MANIFEST_TYPES.includes(mediaType)) {
    if ('manifests' in doc)
      throw field('manifest.manifests', 'an image manifest has no "manifests"');
    return { kind: 'manifest', mediaType, manifest: validateImageManifest(doc) };
  }
  if (INDEX_TYPES.includes(mediaType)) {
    if ('config' in doc || 'layers' in doc) {
      throw field('manifest.config', 'an image index has no "config" or "layers"');
    }
    return { kind: 'index', mediaType, manifest: validateImageIndex(doc) };
  }
  throw field('manifest.mediaType', `unsupported manifest media type ${quote(mediaType)}`);
}

/** The blobs and manifests a manifest points at (config + layers, or manifests); not subject. */
export function manifestReferences(p: ParsedManifest): Descriptor[] {
  return p.kind === 'manifest'
    ? [p.manifest.config, ...p.manifest.layers]
    : [...p.manifest.manifests];
}

/** The bytes we hash and store for a JSON document: JSON.stringify, no whitespace. */
export function serializeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Validates one descriptor at `path` (e.g. `manifest.layers[0]`). */
export function validateDescriptor(value: unknown, path: string): Descriptor {
  const o = asObject(value, path);
  const mediaType = reqString(o, 'mediaType', path);
  if (!MEDIA_TYPE_RE.test(mediaType)) {
    throw field(`${path}.mediaType`, `invalid media type ${quote(mediaType)}`);
  }
  digestField(o['digest'], `${path}.digest`);
  const size = o['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw field(`${path}.size`, `must be a non-negative integer, got ${show(size)}`);
  }
  const d = o as unknown as Descriptor; // validated in place: callers keep the exact object
  if (o['urls'] !== undefined) stringArray(o['urls'], `${path}.urls`);
  if (o['annotations'] !== undefined) stringMap(o['annotations'], `${path}.annotations`);
  if (o['platform'] !== undefined) validatePlatform(o['platform'], `${path}.platform`);
  optString(o, 'artifactType', path);
  const data = optString(o, 'data', path);
  if (data !== undefined) checkEmbeddedData(data, d, path);
  return d;
}

/** Validates a platform object at `path`. */
export function validatePlatform(value: unknown, path: string): Platform {
  const o = asObject(value, path);
  reqString(o, 'architecture', path);
  reqString(o, 'os', path);
  optString(o, 'variant', path);
  optString(o, 'os.version', path);
  if (o['os.features'] !== undefined) stringArray(o['os.features'], `${path}["os.features"]`);
  return o as unknown as Platform;
}

function validateImageManifest(doc: Record<string, unknown>): ImageManifest {
  validateDescriptor(doc['config'], 'manifest.config');
  const layers = doc['layers'];
  if (!Array.isArray(layers))
    throw field('manifest.layers', `must be an array, got ${show(layers)}`);
  layers.forEach((l, i) => validateDescriptor(l, `manifest.layers[${i}]`));
  validateCommon(doc);
  return doc as unknown as ImageManifest;
}

function validateImageIndex(doc: Record<string, unknown>): ImageIndex {
  const manifests = doc['manifests'];
  if (!Array.isArray(manifests)) {
    throw field('manifest.manifests', `must be an array, got ${show(manifests)}`);
  }
  manifests.forEach((m, i) => validateDescriptor(m, `manifest.manifests[${i}]`));
  validateCommon(doc);
  return doc as unknown as ImageIndex;
}

function validateCommon(doc: Record<string, unknown>): void {
  optString(doc, 'artifactType', 'manifest');
  if (doc['subject'] !== undefined) validateDescriptor(doc['subject'], 'manifest.subject');
  if (doc['annotations'] !== undefined) stringMap(doc['annotations'], 'manifest.annotations');
}

function inferType(doc: Record<string, unknown>): string {
  if ('manifests' in doc) return MediaType.OciIndex;
  if ('config' in doc || 'layers' in doc) return MediaType.OciManifest;
  throw field(
    'manifest.mediaType',
    'missing, and the document has neither "layers" nor "manifests"',
  );
}

function checkEmbeddedData(data: string, d: Descriptor, path: string): void {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw field(`${path}.data`, 'is not base64');
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== d.size) {
    throw field(`${path}.data`, `decodes to ${bytes.length} bytes but size is ${d.size}`);
  }
  const algorithm = parseDigest(d.digest).algorithm;
  if (digestOf(bytes, algorithm) !== d.digest) {
    throw field(`${path}.data`, `does not match digest ${d.digest}`);
  }
}

function stripParams(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export { parseImageConfig } from './image-config.js';
export type { ContainerConfig, HistoryEntry, ImageConfig, Healthcheck } from './image-config.js';
