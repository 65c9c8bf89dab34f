// Admin endpoints: `POST /admin/gc?dryRun=true&untagged=true&grace=SECONDS` runs an online
// collection. It needs the `registry:gc:*` grant when auth is on, and (by default,
// `storage.maintenance.gc.loopbackonly`) a loopback client besides. The report lists only what
// the caller may see: manifests of repositories it may pull (all with `registry:catalog:*`),
// blob digests only with `registry:catalog:*`; the rest is counted, not named.
import express, { type Router } from 'express';
import { RegistryError } from '../errors.js';
import type { AccessController, Grant } from '../auth/access.js';
import type { GarbageCollector, GcReport } from '../gc.js';

export const GC_ACCESS = { type: 'registry', name: 'gc', actions: ['*'] };

export interface AdminOptions {
  auth: AccessController;
  gc: GarbageCollector;
  loopbackOnly: boolean;
}

export interface VisibleGcReport extends GcReport {
  /** What was (or would be) deleted but is not named because the caller may not see it. */
  hidden: { manifests: number; blobs: number };
}

export function adminRouter(opts: AdminOptions): Router {
  const router = express.Router();
  router.post('/admin/gc', async (req, res) => {
    req.resume();
    if (opts.loopbackOnly && !isLoopback(req.socket.remoteAddress ?? ''))
      throw new RegistryError('DENIED', 'admin endpoints accept loopback clients only');
    const grant = await opts.auth.authorize(req, [GC_ACCESS]);
    const report = await opts.gc.run({
      dryRun: req.query.dryRun === 'true',
      untagged: req.query.untagged === 'true' ? true : undefined,
      grace: typeof req.query.grace === 'string' ? Number(req.query.grace) || 0 : undefined,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json(visibleReport(report, grant));
  });
  return router;
}

/** The report cut down to what `grant` may see. */
export function visibleReport(report: GcReport, grant: Grant): VisibleGcReport {
  const everything = grant.allows('registry', 'catalog', '*');
  const manifests = report.manifestsDeleted.filter((m) => everything || grant.can(m.repo, 'pull'));
  const blobs = everything ? report.blobsDeleted : [];
  return {
    ...report,
    manifestsDeleted: manifests,
    blobsDeleted: blobs,
    hidden: {
      manifests: report.manifestsDeleted.length - manifests.length,
      blobs: report.blobsDeleted.length - blobs.length,
    },
  };
}

export function isLoopback(address: string): boolean {
  return /^(?:::ffff:)?127\./.test(address) || address === '::1';
}
