// Admin endpoints of the proxy cache (same access as GC: the `registry:gc:*` grant, and loopback
// clients only unless `storage.maintenance.gc.loopbackonly` is off):
//   GET  /admin/proxy/cache                  what is cached: repo, digest, kind, size, last use
//   POST /admin/proxy/evict?maxsize=B&age=S  evict least recently used blobs down to B bytes
//                                            and any unused for S seconds, then run GC
import express, { type Router } from 'express';
import type { AccessController } from '../auth/access.js';
import { RegistryError } from '../errors.js';
import type { GarbageCollector } from '../gc.js';
import { GC_ACCESS, isLoopback } from '../handlers/admin.js';
import type { ProxyService } from './service.js';

export function proxyAdminRouter(opts: {
  auth: AccessController;
  proxy: ProxyService;
  gc?: GarbageCollector;
  loopbackOnly: boolean;
}): Router {
  const router = express.Router();
  router.use('/admin/proxy', async (req, _res, next) => {
    req.resume();
    if (opts.loopbackOnly && !isLoopback(req.socket.remoteAddress ?? ''))
      throw new RegistryError('DENIED', 'admin endpoints accept loopback clients only');
    await opts.auth.authorize(req, [GC_ACCESS]);
    next();
  });
  router.get('/admin/proxy/cache', async (_req, res) => {
    const items = await opts.proxy.cache.list();
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({
      items,
      bytes: items.reduce((n, i) => n + (i.kind === 'blob' ? i.size : 0), 0),
    });
  });
  router.post('/admin/proxy/evict', async (req, res) => {
    const number = (name: string): number | undefined => {
      const v = req.query[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !/^\d{1,15}$/.test(v))
        throw new RegistryError(
          'UNSUPPORTED',
          `invalid ${name}: expected a whole number`,
          undefined,
          {
            status: 400,
          },
        );
      return Number(v);
    };
    const maxsize = number('maxsize');
    const age = number('age');
    if (maxsize === undefined && age === undefined)
      throw new RegistryError('UNSUPPORTED', 'give maxsize (bytes) or age (seconds)', undefined, {
        status: 400,
      });
    const report = await opts.proxy.cache.evict({ maxsize, age });
    const gc = report.evicted.length && opts.gc ? await opts.gc.run({ dryRun: false }) : undefined;
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ ...report, bytesFreed: gc?.bytesFreed ?? 0 });
  });
  return router;
}
