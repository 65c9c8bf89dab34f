// Tag listing (spec "Listing tags"): lexical order, `n`/`last` pagination with a Link header.
import type { Router } from 'express';
import { RegistryError } from '../errors.js';
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
    if (!(await ctx.registry.meta.repositoryExists(repo)))
      throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo });
    const page = pageParams(req);
    const tags = await ctx.registry.meta.listTags(
      repo,
      page.n === undefined ? page : { ...page, n: page.n + 1 },
    );
    if (page.n !== undefined && tags.length > page.n) {
      tags.length = page.n;
      // n=0: an empty list and no Link (the spec says so; there is no `last` to give).
      if (page.n > 0) setNextLink(res, `/v2/${repo}/tags/list`, page.n, tags[tags.length - 1]!);
    }
    res.status(200).json({ name: repo, tags });
  });
  return router;
}
