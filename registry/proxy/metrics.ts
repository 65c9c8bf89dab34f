// Prometheus counters of the proxy mode, registered on the server's metrics registry:
// cache hits and misses by kind, stale answers, bytes fetched from upstreams, upstream errors.
import { Counter } from 'prom-client';
import type { Metrics } from '../metrics.js';

export type CacheResult = 'hit' | 'miss' | 'revalidated' | 'stale';

export class ProxyMetrics {
  readonly requests: Counter<'upstream' | 'kind' | 'result'>;
  readonly upstreamBytes: Counter<'upstream'>;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.requests = new Counter({
      name: 'tsregistry_proxy_requests_total',
      help: 'Proxied manifest and blob requests by cache result (hit, miss, revalidated, stale)',
      labelNames: ['upstream', 'kind', 'result'],
      registers,
    });
    this.upstreamBytes = new Counter({
      name: 'tsregistry_proxy_upstream_bytes_total',
      help: 'Blob bytes fetched from upstream registries',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'tsregistry_proxy_upstream_errors_total',
      help: 'Failed requests to upstream registries',
      labelNames: ['upstream', 'kind'],
      registers,
    });
  }
}
