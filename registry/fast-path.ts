// The hot read path, before Express: manifest GET/HEAD and blob HEAD answered from the
// in-memory caches (tag -> digest, manifest bytes, blob sizes and links) when the access
// controller can decide without I/O. Anything not cached falls through to the router, which
// fills the caches. With a store shared by replicas (no tag cache) a manifest is looked up
// asynchronously here too; a failed lookup goes to the router. Replies are identical to the
// router's: the same headers (X-Request-Id included), access-log line and metrics
// (registry/request-log.ts), and body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from './services/registry.js';
import { manifestHeaders } from './handlers/manifests.js';
import type { StoredManifest } from './services/manifests.js';
import { observeRequest, type RequestObserver } from './request-log.js';

const PATH_RE =
  /^\/v2\/([a-z0-9][a-z0-9._/-]*)\/(manifests|blobs)\/([A-Za-z0-9_][A-Za-z0-9._:-]*)$/;

/** Decides pull access without I/O: true (allowed), or undefined (ask the full controller). */
export type FastAuthorizer = (req: IncomingMessage, repo: string) => boolean | undefined;

/** Answers a request (true), leaves it to the router (false), or says which later (a promise). */
export function fastPath(registry: Registry, authorize: FastAuthorizer, observer: RequestObserver) {
  return (req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const m = PATH_RE.exec(req.url ?? '');
    if (!m) return false;
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const serve = (hit: StoredManifest): true => {
        observeRequest(req, res, observer);
        res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
        manifestHeaders(res, hit);
        res.statusCode = 200;
        res.end(req.method === 'HEAD' ? undefined : hit.bytes);
        return true;
      };
      const hit = registry.manifests.cached(repo, ref);
      if (hit) return authorize(req, repo) === true && serve(hit);
      // A shared store caches no tags: one query (shared by concurrent readers) and the bytes
      // cached by digest, still without the router; anything unusual goes to the router.
      if (!registry.manifests.shared || authorize(req, repo) !== true) return false;
      return registry.manifests.get(repo, ref).then(serve, () => false);
    }
    if (req.method !== 'HEAD') return false;
    const size = registry.cachedBlobSize(repo, ref);
    if (size === undefined || authorize(req, repo) !== true) return false;
    registry.guard.touch(ref);
    observeRequest(req, res, observer);
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(size));
    res.setHeader('Docker-Content-Digest', ref);
    res.setHeader('ETag', `"${ref}"`);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'max-age=31536000');
    res.statusCode = 200;
    res.end();
    return true;
  };
}
