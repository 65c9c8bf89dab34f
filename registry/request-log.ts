// What every request gets, whichever path answers it (the Express router or the fast path in
// fast-path.ts): an `X-Request-Id` (the client's, up to 64 characters, else a new UUID), and
// when the reply is finished one access-log line and the request metrics.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { routeOf, type Metrics } from './metrics.js';

export interface RequestObserver {
  logger: Logger;
  metrics: Metrics;
}

/** Sets the request id header and logs the request once its reply is finished. */
export function observeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  { logger, metrics }: RequestObserver,
): void {
  const id = (req.headers['x-request-id'] as string | undefined)?.slice(0, 64) || randomUUID();
  res.setHeader('X-Request-Id', id);
  const started = process.hrtime.bigint();
  const bytesIn = Number(req.headers['content-length'] ?? 0) || 0;
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  res.on('finish', () => {
    const path = url.split('?', 1)[0]!;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    metrics.requests.inc({ method, route: routeOf(method, path), status: String(res.statusCode) });
    metrics.bytesIn.inc(bytesIn);
    const out = Number(res.getHeader('Content-Length') ?? 0);
    if (method !== 'HEAD' && out > 0) metrics.bytesOut.inc(out);
    logger.info(
      {
        reqId: id,
        method,
        url: url.slice(0, 300),
        status: res.statusCode,
        ms: Math.round(ms),
        bytesIn,
      },
      'request',
    );
  });
}
