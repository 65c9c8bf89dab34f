// The one place that builds storage keys. Everything the StorageDriver holds lives here:
//
//   <root>/
//   ├── blobs/
//   │   └── sha256/
//   │       └── ab/                 first two hex characters, to keep directories small
//   │           └── ab12...ef/      the full hex digest
//   │               └── data        the content, immutable once moved here (atomic rename)
//   ├── uploads/
//   │   └── <uuid>/
//   │       └── data                bytes received so far for an upload session
//   ├── proxy-fetch/
//   │   └── sha256-<hex>/           a pull-through fetch in progress (proxy/fetch-files.ts)
//   ├── proxy-last-use/
//   │   └── <host>-<worker>.json    last uses of proxied items, for LRU eviction (proxy/last-use.ts)
//   ├── meta/                       LevelDB metadata (not a driver key; see metadata/keys.ts)
//   └── auth/                       users file and token signing key (see auth/)
//
// Manifests are blobs too (content-addressed, shared across repositories); which repository
// holds which manifest, tag and blob is metadata.
import { parseDigest } from '../shared/digest.js';

export const BLOBS_ROOT = '/blobs';
export const UPLOADS_ROOT = '/uploads';

/** Directory of one blob. */
export function blobDir(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${BLOBS_ROOT}/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

/** The content of one blob. */
export function blobDataPath(digest: string): string {
  return `${blobDir(digest)}/data`;
}

/** Directory of one upload session. */
export function uploadDir(uuid: string): string {
  if (!/^[0-9a-f-]{36}$/.test(uuid)) throw new Error(`invalid upload id ${uuid}`);
  return `${UPLOADS_ROOT}/${uuid}`;
}

/** The bytes received so far for an upload session. */
export function uploadDataPath(uuid: string): string {
  return `${uploadDir(uuid)}/data`;
}

/** Directory of a pull-through fetch in progress (lock, size and data files). */
export function proxyFetchDir(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `/proxy-fetch/${algorithm}-${hex}`;
}

export const PROXY_LAST_USE_ROOT = '/proxy-last-use';

/** The last uses of proxied items saved by one process (`name`: host and worker). */
export function proxyLastUsePath(name: string): string {
  return `${PROXY_LAST_USE_ROOT}/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

/** Inverse of blobDataPath: the digest a blob data key stands for, or undefined. */
export function digestFromBlobPath(path: string): string | undefined {
  const m = /^\/blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/.exec(path);
  return m ? `${m[1]}:${m[2]}` : undefined;
}
