// Storage use for admins (the console's storage chart), behind the `registry:gc:*` grant:
//   GET /admin/storage   {totalBytes, sharedBytes, repositories[], namespaces[]} (ui/usage.ts)
//   GET /admin/gc/runs   the last collections this process ran, newest first
import express, { type Router } from 'express';
import type { AccessController } from '../auth/access.js';
import type { GarbageCollector } from '../gc.js';
import type { UsageIndex } from '../ui/usage.js';
import { GC_ACCESS } from './admin.js';

export function adminStorageRouter(opts: {
  auth: AccessController;
  usage: UsageIndex;
  gc?: GarbageCollector;
}): Router {
  const router = express.Router();
  router.get('/admin/storage', async (req, res) => {
    await opts.auth.authorize(req, [GC_ACCESS]);
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json(await opts.usage.get());
  });
  router.get('/admin/gc/runs', async (req, res) => {
    await opts.auth.authorize(req, [GC_ACCESS]);
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ runs: opts.gc?.runs ?? [] });
  });
  return router;
}
