// What the tag list and the manifest page show about a reference, read with the registry API:
// the manifest (digest from Docker-Content-Digest, media type), for an image its config blob
// (created, env, cmd, history), for an index its platforms. Cached per repository and reference
// (digests never change; tags are re-read when the page is opened again).
import { call, MANIFEST_ACCEPT, repoScope } from './session.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    Labels?: Record<string, string>;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, unknown>;
  };
  history?: Array<{
    created?: string;
    created_by?: string;
    empty_layer?: boolean;
    comment?: string;
  }>;
}

export interface ImageInfo {
  digest: string;
  mediaType: string;
  /** Bytes of config and layers (an image; for an index, of all its platforms' images). */
  size: number;
  isIndex: boolean;
  manifest: {
    config?: Descriptor;
    layers?: Descriptor[];
    manifests?: Descriptor[];
    subject?: Descriptor;
    artifactType?: string;
    annotations?: Record<string, string>;
  };
  platforms: string[];
  config?: ImageConfig;
}

const cache = new Map<string, Promise<ImageInfo>>();

export function platformName(p: Descriptor['platform']): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

async function fetchInfo(repo: string, reference: string): Promise<ImageInfo> {
  const res = await call(`/v2/${repo}/manifests/${reference}`, repoScope(repo), {
    headers: { Accept: MANIFEST_ACCEPT },
  });
  const text = await res.text();
  const manifest = JSON.parse(text) as ImageInfo['manifest'] & { mediaType?: string };
  const mediaType = res.headers.get('Content-Type') ?? manifest.mediaType ?? 'unknown';
  const digest = res.headers.get('Docker-Content-Digest') ?? reference;
  const isIndex = Array.isArray(manifest.manifests);
  const info: ImageInfo = {
    digest,
    mediaType,
    isIndex,
    manifest,
    size: isIndex
      ? (manifest.manifests ?? []).reduce((n, d) => n + d.size, 0)
      : (manifest.config?.size ?? 0) + (manifest.layers ?? []).reduce((n, d) => n + d.size, 0),
    platforms: isIndex
      ? (manifest.manifests ?? []).filter((d) => d.platform).map((d) => platformName(d.platform))
      : [],
  };
  if (isIndex) {
    // An index's size is what pulling every platform takes; its age, its newest image's.
    const children = await Promise.all(
      (manifest.manifests ?? [])
        .filter((d) => d.platform)
        .map((d) => imageInfo(repo, d.digest).catch(() => undefined)),
    );
    info.size = children.reduce((n, c) => n + (c?.size ?? 0), 0);
    const created = children.map((c) => c?.config?.created ?? '').sort();
    if (created.at(-1)) info.config = { created: created.at(-1) };
  } else if (manifest.config && CONFIG_TYPES.has(manifest.config.mediaType)) {
    const blob = await call(`/v2/${repo}/blobs/${manifest.config.digest}`, repoScope(repo));
    info.config = (await blob.json()) as ImageConfig;
    if (info.config.os && info.config.architecture)
      info.platforms = [`${info.config.os}/${info.config.architecture}`];
  }
  return info;
}

export function imageInfo(repo: string, reference: string): Promise<ImageInfo> {
  const key = `${repo}@${reference}`;
  let p = cache.get(key);
  if (!p) {
    p = fetchInfo(repo, reference);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Forgets what is cached for a repository (after a delete, or when its page is reopened). */
export function forgetRepo(repo: string): void {
  for (const key of cache.keys()) if (key.startsWith(`${repo}@`)) cache.delete(key);
}
