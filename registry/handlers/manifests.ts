// Manifest routes (spec "Pulling/Pushing/Deleting manifests"): GET/HEAD, PUT (byte-exact,
// references checked, OCI-Subject), DELETE by tag or digest. Accept negotiation without
// conversions (no schema1): the spec says a GET of an existing manifest MUST return it with 200
// (404 only when it is not there), so the stored manifest is served whatever Accept lists and
// its Content-Type tells the client what it got (as zot does; distribution 2.8 answers 404 for
// OCI types missing from Accept, which breaks that MUST).
import type { Request, Response, Router } from 'express';
import { MANIFEST_SIZE_LIMIT } from '../../shared/manifest.js';
import { RegistryError } from '../errors.js';
import type { StoredManifest } from '../services/manifests.js';
import {
  locals,
  onRepo,
  readBody,
  requireAccess,
  resourceRouter,
  type HandlerContext,
} from './common.js';

export function manifestsRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  const path = '/v2/*name/manifests/:reference';
  const read = async (req: Request, res: Response): Promise<void> => {
    const { repo, reference } = locals(res);
    const m = await ctx.registry.manifests.get(repo, reference);
    manifestHeaders(res, m);
    res.status(200).end(req.method === 'HEAD' ? undefined : m.bytes);
  };
  router.get(path, requireAccess(ctx, onRepo('pull')), read);
  router.head(path, requireAccess(ctx, onRepo('pull')), read);

  router.put(path, requireAccess(ctx, onRepo('pull', 'push')), async (req, res) => {
    const { repo, reference } = locals(res);
    const bytes = await readBody(req, MANIFEST_SIZE_LIMIT);
    const stored = await ctx.registry.manifests.put(
      repo,
      reference,
      bytes,
      req.headers['content-type'],
    );
    res.setHeader('Location', `/v2/${repo}/manifests/${stored.digest}`);
    res.setHeader('Docker-Content-Digest', stored.digest);
    if (stored.subject) res.setHeader('OCI-Subject', stored.subject);
    res.setHeader('Content-Length', '0');
    res.status(201).end();
  });

  router.delete(path, requireAccess(ctx, onRepo('delete')), async (_req, res) => {
    if (!ctx.registry.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled');
    const { repo, reference } = locals(res);
    await ctx.registry.manifests.delete(repo, reference);
    res.status(202).setHeader('Content-Length', '0').end();
  });
  return router;
}

export function manifestHeaders(
  res: { setHeader(k: string, v: string): unknown },
  m: StoredManifest,
): void {
  res.setHeader('Content-Type', m.mediaType);
  res.setHeader('Content-Length', String(m.bytes.length));
  res.setHeader('Docker-Content-Digest', m.digest);
  res.setHeader('ETag', `"${m.digest}"`);
}
