// Repository catalog (`GET /v2/_catalog`, distribution extension): sorted, `n`/`last`, Link.
import type { Router } from 'express';
import {
  pageParams,
  requireAccess,
  resourceRouter,
  setNextLink,
  type HandlerContext,
} from './common.js';

const DEFAULT_PAGE = 1000;

export function catalogRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  router.get(
    '/v2/_catalog',
    requireAccess(ctx, () => [{ type: 'registry', name: 'catalog', actions: ['*'] }]),
    async (req, res) => {
      const page = pageParams(req);
      const n = page.n ?? DEFAULT_PAGE;
      const { items, more } = await ctx.registry.listings.repositories({ ...page, n });
      // n=0 asks for an empty list, and no next page (there is no `last` to give).
      if (more && n > 0) setNextLink(res, '/v2/_catalog', n, items[items.length - 1]!);
      res.status(200).json({ repositories: items });
    },
  );
  return router;
}
