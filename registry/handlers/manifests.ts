// Manifest routes (spec "Pulling/Pushing/Deleting manifests"): GET/HEAD with Accept
// negotiation, PUT (byte-exact, references checked, OCI-Subject), DELETE by tag or digest.
import type { Request, Response, Router } from 'express';
import { MANIFEST_SIZE_LIMIT } from '../../shared/manifest.js';
import { MANIFEST_MEDIA_TYPES } from '../../shared/media-types.js';
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
    if (!accepts(req.headers.accept, m.mediaType))
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        `manifest is ${m.mediaType}, not accepted by the client`,
      );
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

/**
 * Accept negotiation: a client that lists manifest media types but not this one (and no
 * wildcard) does not get it; no Accept, or no manifest types in it, means anything goes.
 */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim());
  if (types.includes(mediaType) || types.includes('*/*')) return true;
  return !types.some((t) => MANIFEST_MEDIA_TYPES.includes(t));
}
