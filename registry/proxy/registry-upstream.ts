// The Upstream over the Distribution API, through the shared registry client (shared/client/):
// anonymous or Basic credentials through the upstream's challenge (Docker token flow), tokens
// cached until they expire, retries with backoff, resumed and verified blob downloads.
import { NotFoundError } from '../../shared/errors.js';
import { RegistryClient } from '../../shared/client/registry-client.js';
import type { UpstreamConfig } from './config.js';
import {
  UpstreamNotFoundError,
  UpstreamUnavailableError,
  type BlobFileEvents,
  type Upstream,
  type UpstreamManifest,
} from './upstream.js';

export class RegistryUpstream implements Upstream {
  readonly url: string;
  private readonly client: RegistryClient;

  constructor(config: UpstreamConfig) {
    this.url = config.remoteurl;
    this.client = new RegistryClient({
      registry: new URL(config.remoteurl).host,
      endpoint: config.remoteurl,
      insecure: config.tls.insecureskipverify,
      ...(config.tls.ca ? { ca: config.tls.ca } : {}),
      credentials:
        config.username !== undefined
          ? { username: config.username, password: config.password ?? '' }
          : null,
      userAgent: 'tsregistry-proxy/0.1',
    });
  }

  manifest(repo: string, reference: string): Promise<UpstreamManifest> {
    return this.call(() => this.client.getManifest(repo, reference));
  }

  manifestDigest(repo: string, tag: string): Promise<string> {
    return this.call(async () => {
      const found = await this.client.headManifest(repo, tag);
      if (!found) throw new NotFoundError(`manifest ${repo}:${tag} not found upstream`);
      return found.digest;
    });
  }

  blobToFile(repo: string, digest: string, fd: number, events: BlobFileEvents): Promise<number> {
    return this.call(() => this.client.downloadBlobToFile(repo, digest, fd, events));
  }

  blobSize(repo: string, digest: string): Promise<number> {
    return this.call(async () => {
      const size = await this.client.headBlob(repo, digest);
      if (size === undefined) throw new NotFoundError(`blob ${digest} not found upstream`);
      return size;
    });
  }

  tags(repo: string): Promise<string[]> {
    return this.call(() => this.client.listTags(repo));
  }

  /** Runs a client call, sorting its failures into not-found and unavailable. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // NotFoundError: 404, or a 401/403 the client reads as "does not exist or needs login".
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof NotFoundError) throw new UpstreamNotFoundError(message, { cause: err });
      throw new UpstreamUnavailableError(`upstream ${this.url}: ${message}`, { cause: err });
    }
  }
}
