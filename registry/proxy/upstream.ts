// Upstream: a registry the proxy mode fetches from (one per configured upstream, with its own
// auth and TLS). Implementations: registry-upstream.ts (the Distribution API through the shared
// client). Errors: UpstreamNotFoundError when the upstream says it has no such thing; anything
// else (unreachable, 5xx, refused credentials) is UpstreamUnavailableError.
export interface UpstreamManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface BlobFileEvents {
  /** Called once before the first byte is written, with the size when the upstream told it. */
  onSize(size: number | undefined): void | Promise<void>;
  /** Bytes written to the file so far, as they are. */
  onWritten(n: number): void;
}

export interface Upstream {
  /** Where it is (for logs, metrics and errors): `https://registry-1.docker.io`. */
  readonly url: string;
  /** A manifest by tag or digest (a digest is verified). */
  manifest(repo: string, reference: string): Promise<UpstreamManifest>;
  /** The digest a tag points at now (HEAD). */
  manifestDigest(repo: string, tag: string): Promise<string>;
  /**
   * A blob's content written into `fd` from offset 0, in order (the file only ever grows by
   * bytes that are in it); resolves with the size once every byte is written and matched the
   * digest, rejects otherwise.
   */
  blobToFile(repo: string, digest: string, fd: number, events: BlobFileEvents): Promise<number>;
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
