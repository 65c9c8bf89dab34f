// The hot read path, before Express: manifest GET/HEAD and blob HEAD answered from the
// in-memory caches (tag -> digest, manifest bytes, blob sizes and links) when the access
// controller can decide without I/O. Anything not cached falls through to the router, which
// fills the caches. Replies are identical to the router's: the same headers (X-Request-Id
// included), access-log line and metrics (registry/request-log.ts), and body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from './services/registry.js';
import { manifestHeaders } from './handlers/manifests.js';
import { observeRequest, type RequestObserver } from './request-log.js';

const PATH_RE =
  /^\/v2\/([a-z0-9][a-z0-9._/-]*)\/(manifests|blobs)\/([A-Za-z0-9_][A-Za-z0-9._:-]*)$/;

/** Decides pull access without I/O: true (allowed), or undefined (ask the full controller). */
export type FastAuthorizer = (req: IncomingMessage, repo: string) => boolean | undefined;

export function fastPath(registry: Registry, authorize: FastAuthorizer, observer: RequestObserver) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const m = PATH_RE.exec(req.url ?? '');
    if (!m) return false;
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const hit = registry.manifests.cached(repo, ref);
      if (!hit || authorize(req, repo) !== true) return false;
      observeRequest(req, res, observer);
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
      manifestHeaders(res, hit);
      res.statusCode = 200;
      res.end(req.method === 'HEAD' ? undefined : hit.bytes);
      return true;
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
