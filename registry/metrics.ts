// Prometheus metrics (`GET /metrics`): requests by route and status, bytes in and out, open
// upload sessions, GC runs. One prom-client registry per server, so tests can run many.
import { Counter, Gauge, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new PromRegistry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly uploads: Gauge;
  readonly gcRuns: Counter<'result'>;

  /** `countUploads` is asked at each scrape for the number of open upload sessions (O(1)). */
  constructor(defaults = false, countUploads?: () => number) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tsregistry_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.bytesIn = new Counter({
      name: 'tsregistry_http_bytes_in_total',
      help: 'Request body bytes received',
      registers,
    });
    this.bytesOut = new Counter({
      name: 'tsregistry_http_bytes_out_total',
      help: 'Response bytes sent',
      registers,
    });
    this.uploads = new Gauge({
      name: 'tsregistry_upload_sessions',
      help: 'Open upload sessions',
      registers,
      collect() {
        if (countUploads) this.set(countUploads());
      },
    });
    this.gcRuns = new Counter({
      name: 'tsregistry_gc_runs_total',
      help: 'Garbage collection runs',
      labelNames: ['result'],
      registers,
    });
  }
}

/** A low-cardinality route label from a request path. */
export function routeOf(method: string, path: string): string {
  if (path === '/v2/' || path === '/v2') return 'base';
  if (path.startsWith('/v2/_catalog')) return 'catalog';
  if (path === '/token') return 'token';
  const m = /\/(blobs\/uploads|blobs|manifests|tags|referrers)\b/.exec(path);
  if (m) return m[1] === 'blobs/uploads' ? 'uploads' : m[1]!;
  if (path === '/healthz' || path === '/metrics') return path.slice(1);
  return method === 'GET' ? 'other' : 'other';
}
