// The console's one read endpoint that the registry API lacks: a page of repositories with their
// size, tag count and last push (`GET /ui/api/repositories?n=50&last=NAME&q=TEXT`). It needs the
// same grant as `/v2/_catalog` (`registry:catalog:*`), pages the same way (`n`/`last`, sorted by
// name, `next` when more follow) and filters by a substring server-side, so the page never
// fetches the whole catalog. Figures come from the cached usage index (usage.ts).
import express, { type Router } from 'express';
import type { AccessController } from '../auth/access.js';
import { RegistryError } from '../errors.js';
import type { Registry } from '../services/registry.js';
import { securityHeaders } from './routes.js';
import type { RepositoryUsage, UsageIndex } from './usage.js';

const CATALOG_ACCESS = { type: 'registry', name: 'catalog', actions: ['*'] };
const MAX_PAGE = 500;
const SCAN_CHUNK = 1000;

export function uiApiRouter(opts: {
  registry: Registry;
  auth: AccessController;
  usage: UsageIndex;
}): Router {
  const router = express.Router();
  router.get('/ui/api/repositories', async (req, res) => {
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-store');
    await opts.auth.authorize(req, [CATALOG_ACCESS]);
    const n = pageSize(req.query.n);
    const q = typeof req.query.q === 'string' ? req.query.q.trim().toLowerCase() : '';
    let last = typeof req.query.last === 'string' ? req.query.last : undefined;
    const names: string[] = [];
    let more = false;
    // Scan the sorted names in chunks until a page of matches (and one more) is found.
    while (names.length <= n) {
      const chunk = await opts.registry.listings.repositories({ last, n: SCAN_CHUNK });
      for (const name of chunk.items) if (!q || name.toLowerCase().includes(q)) names.push(name);
      if (!chunk.more) break;
      last = chunk.items[chunk.items.length - 1];
    }
    if (names.length > n) {
      names.length = n;
      more = true;
    }
    let usage = await opts.usage.get({ allowStale: true });
    let byName = new Map(usage.repositories.map((r) => [r.name, r]));
    // A repository pushed since the last figures: wait for fresh ones.
    if (!names.every((name) => byName.has(name))) {
      usage = await opts.usage.get();
      byName = new Map(usage.repositories.map((r) => [r.name, r]));
    }
    const repositories: RepositoryUsage[] = names.map(
      (name) => byName.get(name) ?? { name, bytes: 0, sharedBytes: 0, manifests: 0, tags: 0 },
    );
    res.status(200).json({ repositories, ...(more ? { next: names[names.length - 1] } : {}) });
  });
  return router;
}

function pageSize(value: unknown): number {
  if (value === undefined) return 50;
  if (typeof value !== 'string' || !/^\d{1,4}$/.test(value) || Number(value) < 1)
    throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n: value });
  return Math.min(Number(value), MAX_PAGE);
}
