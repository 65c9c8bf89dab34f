// The Express application: request ids and access logs, metrics, health, the token service,
// one router per resource, the 404 fallback and the one error middleware.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { adminRouter } from './handlers/admin.js';
import type { Logger } from 'pino';
import { errorMiddleware, RegistryError } from './errors.js';
import type { Metrics } from './metrics.js';
import { observeRequest } from './request-log.js';
import type { HandlerContext } from './handlers/common.js';
import { baseRouter } from './handlers/base.js';
import { catalogRouter } from './handlers/catalog.js';
import { uploadsRouter } from './handlers/uploads.js';
import { blobsRouter } from './handlers/blobs.js';
import { manifestsRouter } from './handlers/manifests.js';
import { tagsRouter } from './handlers/tags.js';
import { referrersRouter } from './handlers/referrers.js';
import type { Router } from 'express';
import type { GarbageCollector } from './gc.js';
import type { ProxyService } from './proxy/service.js';
import { proxyRouter } from './proxy/handlers.js';
import { proxyAdminRouter } from './proxy/admin.js';
import type { UsersFile } from './auth/users.js';
import { adminUsersRouter } from './handlers/admin-users.js';
import { adminStorageRouter } from './handlers/admin-storage.js';
import { UsageIndex } from './ui/usage.js';
import { uiStaticRouter } from './ui/routes.js';
import { uiApiRouter } from './ui/api.js';

export interface AppOptions extends HandlerContext {
  logger: Logger;
  metrics: Metrics;
  /** Extra routers mounted before the registry API (the token service). */
  extra?: Router[];
  /** Online GC, triggered by `POST /admin/gc` (`tsregistry gc` uses it; see handlers/admin.ts). */
  gc?: GarbageCollector;
  /** Accept `POST /admin/gc` from loopback clients only (default true). */
  adminLoopbackOnly?: boolean;
  /** Serve `/metrics` here (false when a separate `http.debug` listener serves it). */
  metricsRoute?: boolean;
  /** Pull-through cache of upstream registries (registry/proxy/), when configured. */
  proxy?: ProxyService;
  /** The token service's users, for the `/admin/users` endpoints (absent without token auth). */
  users?: UsersFile;
  /** Serve the web console at `/ui/` (registry/ui/; default true). */
  ui?: boolean;
}

export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(observe(opts));
  app.get('/healthz', (_req, res) => void res.status(200).json({ status: 'ok' }));
  if (opts.metricsRoute !== false) app.get('/metrics', metricsHandler(opts.metrics));
  if (opts.gc)
    app.use(
      adminRouter({ auth: opts.auth, gc: opts.gc, loopbackOnly: opts.adminLoopbackOnly ?? true }),
    );
  if (opts.proxy)
    app.use(
      proxyAdminRouter({
        auth: opts.auth,
        proxy: opts.proxy,
        gc: opts.gc,
        loopbackOnly: opts.adminLoopbackOnly ?? true,
      }),
    );
  const usage = new UsageIndex(opts.registry);
  app.use(adminStorageRouter({ auth: opts.auth, usage, gc: opts.gc }));
  if (opts.users) app.use(adminUsersRouter({ auth: opts.auth, users: opts.users }));
  if (opts.ui !== false) {
    app.use(uiStaticRouter());
    app.use(uiApiRouter({ registry: opts.registry, auth: opts.auth, usage }));
  }
  for (const r of opts.extra ?? []) app.use(r);
  app.use((_req, res, next) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    next();
  });
  if (opts.proxy) app.use(proxyRouter(opts, opts.proxy));
  for (const make of [
    baseRouter,
    catalogRouter,
    uploadsRouter,
    blobsRouter,
    manifestsRouter,
    tagsRouter,
    referrersRouter,
  ])
    app.use(make(opts));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    req.resume();
    next(
      new RegistryError('UNSUPPORTED', 'no such endpoint', { method: req.method }, { status: 404 }),
    );
  });
  app.use(errorMiddleware((err) => opts.logger.error({ err }, 'request failed')));
  return app;
}

/** `GET /metrics`: the Prometheus text format (every gauge is O(1) to collect). */
export function metricsHandler(metrics: Metrics) {
  return async (_req: Request, res: Response): Promise<void> => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  };
}

/** Request id, access log line and metrics for every request (registry/request-log.ts). */
function observe(opts: AppOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    observeRequest(req, res, opts);
    next();
  };
}
