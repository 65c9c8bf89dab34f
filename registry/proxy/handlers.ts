// Routes of proxied repositories, mounted before the normal resource routers: manifest and blob
// reads go through the cache (a cached, linked blob falls through to the normal blob route,
// which serves ranges and HEADs), tag lists come from the upstream, and every write is refused
// (proxied repositories are read-only). Requests for other repositories pass through untouched.
import type { NextFunction, Request, Response, Router } from 'express';
import { RegistryError } from '../errors.js';
import { blobHeaders } from '../handlers/blobs.js';
import {
  locals,
  onRepo,
  pageParams,
  requireAccess,
  resourceRouter,
  setNextLink,
  type HandlerContext,
} from '../handlers/common.js';
import { manifestHeaders } from '../handlers/manifests.js';
import type { ProxyTarget } from './routes.js';
import type { ProxyService } from './service.js';
import { UpstreamNotFoundError } from './upstream.js';
import { upstreamCall } from './upstream-call.js';

const WRITE_RE = /^\/v2\/(.+?)\/(?:manifests\/[^/]+|blobs\/uploads(?:\/.*)?|blobs\/[^/]+)$/;

export function proxyRouter(ctx: HandlerContext, proxy: ProxyService): Router {
  const router = resourceRouter();
  const target = (res: Response): ProxyTarget => res.locals.proxy as ProxyTarget;
  /** Only proxied repositories go on (the rest skip to the normal routers). */
  const proxied = (_req: Request, res: Response, next: NextFunction): void => {
    const t = proxy.resolve(locals(res).repo);
    if (!t) return next('route');
    res.locals.proxy = t;
    next();
  };

  router.use((req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const m = WRITE_RE.exec(req.path);
    const t = m ? proxy.resolve(m[1]!) : undefined;
    if (!t) return next();
    req.resume();
    next(
      new RegistryError(
        'UNSUPPORTED',
        `${t.repo} is a read-only cache of ${t.route.upstream.url}; push to another repository`,
      ),
    );
  });

  const manifest = async (req: Request, res: Response): Promise<void> => {
    const found = await proxy.manifests.get(target(res), locals(res).reference);
    proxy.cache.touch(target(res).repo, found.manifest.digest);
    manifestHeaders(res, found.manifest);
    if (found.result === 'stale') {
      res.setHeader('Warning', '110 tsregistry "Response is Stale"');
      res.setHeader('X-Proxy-Cache', 'stale');
    } else res.setHeader('X-Proxy-Cache', found.result);
    res.status(200).end(req.method === 'HEAD' ? undefined : found.manifest.bytes);
  };
  const manifestPath = '/v2/*name/manifests/:reference';
  router.get(manifestPath, proxied, requireAccess(ctx, onRepo('pull')), manifest);
  router.head(manifestPath, proxied, requireAccess(ctx, onRepo('pull')), manifest);

  const blob = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const t = target(res);
    const { digest } = locals(res);
    const count = (result: 'hit' | 'miss'): void => {
      proxy.metrics.requests.inc({ upstream: t.route.upstream.url, kind: 'blob', result });
      proxy.cache.touch(t.repo, digest);
    };
    if (await ensureLinked(proxy, t, digest)) {
      count('hit');
      return next(); // the normal blob route serves it
    }
    count('miss');
    if (req.method === 'HEAD') {
      const size =
        proxy.blobs.verifiedSize(digest) ??
        (await upstreamCall(proxy.metrics, t, { kind: 'blob', reference: digest }, () =>
          t.route.upstream.blobSize(t.remoteRepo, digest),
        ));
      blobHeaders(res, digest, size);
      return void res.status(200).end();
    }
    const call = { kind: 'blob', reference: digest } as const;
    const opened = await upstreamCall(proxy.metrics, t, call, () => proxy.blobs.open(t, digest));
    if (!opened) return next(); // stored meanwhile
    if (req.headers.range !== undefined) {
      await upstreamCall(proxy.metrics, t, call, () => opened.done);
      return next(); // the normal route serves ranges from storage
    }
    blobHeaders(res, digest, opened.size ?? 0);
    if (opened.size === undefined) res.removeHeader('Content-Length');
    res.status(200);
    res.flushHeaders(); // the client knows at once that the blob is coming
    try {
      await opened.sendTo(res);
      res.end();
    } catch {
      res.destroy();
    }
  };
  const blobPath = '/v2/*name/blobs/:digest';
  router.get(blobPath, proxied, requireAccess(ctx, onRepo('pull')), blob);
  router.head(blobPath, proxied, requireAccess(ctx, onRepo('pull')), blob);

  router.get(
    '/v2/*name/tags/list',
    proxied,
    requireAccess(ctx, onRepo('pull')),
    async (req, res, next) => {
      const t = target(res);
      let tags: string[];
      try {
        tags = (await t.route.upstream.tags(t.remoteRepo)).sort();
      } catch (err) {
        if (err instanceof UpstreamNotFoundError)
          throw new RegistryError('NAME_UNKNOWN', undefined, { name: t.repo });
        proxy.metrics.upstreamErrors.inc({ upstream: t.route.upstream.url, kind: 'tags' });
        return next(); // upstream unreachable: the tags cached here
      }
      const page = pageParams(req);
      if (page.last !== undefined) tags = tags.filter((x) => x > page.last!);
      if (page.n !== undefined && tags.length > page.n) {
        tags = tags.slice(0, page.n);
        if (page.n > 0) setNextLink(res, `/v2/${t.repo}/tags/list`, page.n, tags[tags.length - 1]!);
      }
      res.status(200).json({ name: t.repo, tags });
    },
  );
  return router;
}

/**
 * Whether the repository can serve the blob from storage now: linked and stored, or stored for
 * another repository and confirmed by the upstream for this one (then linked without a download).
 */
async function ensureLinked(proxy: ProxyService, t: ProxyTarget, digest: string): Promise<boolean> {
  const { registry } = proxy;
  const stored = (await registry.blobs.size(digest)) !== undefined;
  if (!stored) return false;
  if (await registry.meta.hasLink(t.repo, digest)) return true;
  try {
    await t.route.upstream.blobSize(t.remoteRepo, digest);
  } catch {
    return false; // let the fetch path report what the upstream says
  }
  return await registry.guard.shared(async () => {
    registry.guard.touch(digest);
    if ((await registry.blobs.size(digest, { fresh: true })) === undefined) return false;
    await registry.meta.putLink(t.repo, digest);
    return true;
  });
}
