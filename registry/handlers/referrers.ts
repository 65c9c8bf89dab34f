// Referrers API (spec "Listing referrers"): an OCI index of the manifests whose subject is the
// digest, optionally filtered by artifactType; an empty index (never 404) for unknown digests.
import type { Router } from 'express';
import { MediaType } from '../../shared/media-types.js';
import { locals, onRepo, requireAccess, resourceRouter, type HandlerContext } from './common.js';

export function referrersRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  router.get(
    '/v2/*name/referrers/:digest',
    requireAccess(ctx, onRepo('pull')),
    async (req, res) => {
      const { repo, digest } = locals(res);
      const filter = req.query.artifactType;
      const artifactType = typeof filter === 'string' ? filter : undefined;
      const manifests = await ctx.registry.listings.referrers(repo, digest, artifactType);
      if (artifactType !== undefined) res.setHeader('OCI-Filters-Applied', 'artifactType');
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
      res.status(200).setHeader('Content-Type', MediaType.OciIndex).end(body);
    },
  );
  return router;
}
