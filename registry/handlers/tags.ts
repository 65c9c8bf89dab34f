// Tag listing (spec "Listing tags"): lexical order, `n`/`last` pagination with a Link header.
import type { Router } from 'express';
import {
  locals,
  onRepo,
  pageParams,
  requireAccess,
  resourceRouter,
  setNextLink,
  type HandlerContext,
} from './common.js';

export function tagsRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  router.get('/v2/*name/tags/list', requireAccess(ctx, onRepo('pull')), async (req, res) => {
    const { repo } = locals(res);
    const { items, more, page } = await ctx.registry.listings.tags(repo, () => pageParams(req));
    // n=0: an empty list and no Link (the spec says so; there is no `last` to give).
    if (more && page.n! > 0) setNextLink(res, `/v2/${repo}/tags/list`, page.n!, items.at(-1)!);
    res.status(200).json({ name: repo, tags: items });
  });
  return router;
}
