// The proxy mode: the configured upstreams and their routes, the manifest cache and the shared
// blob fetches, with their metrics. Built by server.ts when the config has a `proxy` section.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Registry } from '../services/registry.js';
import { BlobFetcher } from './blob-fetch.js';
import { CacheAdmin } from './cache-admin.js';
import type { GarbageCollector } from '../gc.js';
import type { ProxyConfig, UpstreamConfig } from './config.js';
import { ManifestCache } from './manifest-cache.js';
import { ProxyMetrics } from './metrics.js';
import { RegistryUpstream } from './registry-upstream.js';
import { ProxyRoutes, type ProxyTarget } from './routes.js';
import type { Upstream } from './upstream.js';

export class ProxyService {
  readonly routes: ProxyRoutes;
  readonly manifests: ManifestCache;
  readonly blobs: BlobFetcher;
  readonly metrics: ProxyMetrics;
  readonly cache: CacheAdmin;
  private evicting: Promise<void> | undefined;

  constructor(
    readonly registry: Registry,
    readonly config: ProxyConfig,
    readonly logger: Logger,
    metrics: Metrics,
    /** Frees the bytes of evicted blobs (maxsize); without it they go at the next GC. */
    private readonly gc?: GarbageCollector,
    makeUpstream: (c: UpstreamConfig) => Upstream = (c) => new RegistryUpstream(c),
  ) {
    this.metrics = new ProxyMetrics(metrics);
    this.routes = new ProxyRoutes(
      config.upstreams.map((c) => ({ config: c, upstream: makeUpstream(c) })),
    );
    this.manifests = new ManifestCache(registry, this.metrics, logger);
    this.cache = new CacheAdmin(registry, this.routes);
    this.blobs = new BlobFetcher(registry, (target) => ({
      onBytes: (n) => this.metrics.upstreamBytes.inc({ upstream: target.route.upstream.url }, n),
      onStored: (size) => {
        logger.info(
          { repo: target.repo, size, upstream: target.route.upstream.url },
          'proxy: blob cached',
        );
        if (config.maxsize > 0) this.enforceMaxsize();
      },
    }));
  }

  /** Evicts down to `proxy.maxsize` (one run at a time), then lets GC free the bytes. */
  private enforceMaxsize(): void {
    this.evicting ??= (async () => {
      const report = await this.cache.evict({ maxsize: this.config.maxsize });
      if (report.evicted.length === 0) return;
      this.logger.info({ blobs: report.evicted.length, bytes: report.bytes }, 'proxy: evicted');
      await this.gc?.run({ dryRun: false });
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'proxy: eviction failed'))
      .finally(() => (this.evicting = undefined));
  }

  /** Resolves once no eviction runs and the last uses are saved (tests, shutdown). */
  async idle(): Promise<void> {
    await this.evicting;
    await this.cache.flush();
  }

  /** The upstream serving `repo`, or undefined for this registry's own repositories. */
  resolve(repo: string): ProxyTarget | undefined {
    return this.routes.resolve(repo);
  }
}
