// The API version check (`GET /v2/`): 200 with `{}` once authorized; the 401 from here is how
// clients discover the token realm.
import type { Router } from 'express';
import { requireAccess, resourceRouter, type HandlerContext } from './common.js';

export function baseRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  router.get(
    '/v2/',
    requireAccess(ctx, () => []),
    (_req, res) => {
      res.status(200).json({});
    },
  );
  return router;
}
