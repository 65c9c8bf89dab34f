// Runs one step that asks an upstream, turning its failures into the registry's errors: "the
// upstream does not have it" is MANIFEST_UNKNOWN / BLOB_UNKNOWN (404); anything else is counted
// as an upstream error and answered 502 UNAVAILABLE saying the item is not cached and why.
import { RegistryError } from '../errors.js';
import type { ProxyMetrics } from './metrics.js';
import type { ProxyTarget } from './routes.js';
import { UpstreamNotFoundError, UpstreamUnavailableError } from './upstream.js';

export async function upstreamCall<T>(
  metrics: ProxyMetrics,
  target: ProxyTarget,
  what: { kind: 'manifest' | 'blob'; reference: string },
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const url = target.route.upstream.url;
    if (err instanceof UpstreamNotFoundError)
      throw new RegistryError(
        what.kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
        `${what.kind} unknown to upstream ${url}`,
        { name: target.remoteRepo, reference: what.reference },
      );
    metrics.upstreamErrors.inc({ upstream: url, kind: what.kind });
    const why =
      err instanceof UpstreamUnavailableError
        ? err.message
        : `upstream ${url}: ${String((err as Error).message ?? err)}`;
    const name = what.kind === 'manifest' ? `${target.repo}:${what.reference}` : what.reference;
    throw new RegistryError('UNAVAILABLE', `${name} is not cached and ${why}`, undefined, {
      status: 502,
    });
  }
}
