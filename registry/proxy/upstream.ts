// Upstream: a registry the proxy mode fetches from (one per configured upstream, with its own
// auth and TLS). Implementations: registry-upstream.ts (the Distribution API through the shared
// client). Errors: UpstreamNotFoundError when the upstream says it has no such thing; anything
// else (unreachable, 5xx, refused credentials) is UpstreamUnavailableError.
import type { Readable } from 'node:stream';

export interface UpstreamManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface UpstreamBlob {
  /** Size from the upstream's headers, when it sent one. */
  size: number | undefined;
  /** The content; the stream errors (before its last bytes) when they do not match the digest. */
  body: Readable;
}

export interface Upstream {
  /** Where it is (for logs, metrics and errors): `https://registry-1.docker.io`. */
  readonly url: string;
  /** A manifest by tag or digest (a digest is verified). */
  manifest(repo: string, reference: string): Promise<UpstreamManifest>;
  /** The digest a tag points at now (HEAD). */
  manifestDigest(repo: string, tag: string): Promise<string>;
  /** A blob's content, streamed and verified. */
  blob(repo: string, digest: string): Promise<UpstreamBlob>;
  /** A blob's size, without its content (HEAD). */
  blobSize(repo: string, digest: string): Promise<number>;
  tags(repo: string): Promise<string[]>;
}

/** The upstream answered that it does not have what was asked for. */
export class UpstreamNotFoundError extends Error {
  override readonly name = 'UpstreamNotFoundError';
}

/** The upstream could not be asked (down, failing, refusing our credentials). */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
}
