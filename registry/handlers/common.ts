// What every route file shares: the handler context, name/digest/reference validation done once
// with router.param, the access middleware, and request helpers.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { isDigest } from '../../shared/digest.js';
import { parseRepositoryName } from '../../shared/reference.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { RegistryError } from '../errors.js';
import type { Access, AccessController, Grant } from '../auth/access.js';
import type { Registry } from '../services/registry.js';
import { TAG_RE } from '../services/manifests.js';

export interface HandlerContext {
  registry: Registry;
  auth: AccessController;
}

/** Typed access to what the param handlers validated. */
export interface Locals {
  repo: string;
  digest: string;
  reference: string;
  uuid: string;
  grant: Grant;
}

export function locals(res: Response): Locals {
  return res.locals as Locals;
}

/** A router whose `name`, `digest`, `reference` and `uuid` params are validated before any handler. */
export function resourceRouter(): Router {
  const router = express.Router({ mergeParams: true });
  router.param('name', (_req, res, next, value: string | string[]) => {
    const name = Array.isArray(value) ? value.join('/') : value;
    try {
      parseRepositoryName(name);
    } catch {
      return next(
        new RegistryError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 256) }),
      );
    }
    locals(res).repo = name;
    next();
  });
  router.param('digest', (_req, res, next, value: string) => {
    if (!isDigest(value))
      return next(
        new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: value.slice(0, 200) }),
      );
    locals(res).digest = value;
    next();
  });
  router.param('reference', (req, res, next, value: string) => {
    const ok = value.includes(':') ? isDigest(value) : TAG_RE.test(value);
    if (!ok && req.method !== 'PUT')
      // No manifest can exist under it: reads and deletes answer "unknown", as the reference
      // registry and zot do; only a PUT is told what is wrong with it.
      return next(
        new RegistryError('MANIFEST_UNKNOWN', undefined, { reference: value.slice(0, 200) }),
      );
    if (!ok)
      return next(
        value.includes(':')
          ? new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: value.slice(0, 200) })
          : new RegistryError('TAG_INVALID', 'invalid tag', { tag: value.slice(0, 200) }),
      );
    locals(res).reference = value;
    next();
  });
  router.param('uuid', (_req, res, next, value: string) => {
    if (!/^[0-9a-f-]{36}$/.test(value)) return next(new RegistryError('BLOB_UPLOAD_UNKNOWN'));
    locals(res).uuid = value;
    next();
  });
  return router;
}

/** Middleware: authorizes the access `need(req, res)` returns and stores the grant. */
export function requireAccess(
  ctx: HandlerContext,
  need: (req: Request, res: Response) => Access[],
) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    locals(res).grant = await ctx.auth.authorize(req, need(req, res));
    next();
  };
}

/** Access on the request's repository. */
export function onRepo(...actions: string[]) {
  return (_req: Request, res: Response): Access[] => [
    { type: 'repository', name: locals(res).repo, actions },
  ];
}

/** Reads a whole (small) body, refusing more than `limit` bytes with 413. */
export async function readBody(
  req: Readable & { headers: Record<string, unknown> },
  limit: number,
): Promise<Buffer> {
  const announced = Number(req.headers['content-length'] ?? NaN);
  if (announced > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): RegistryError {
  return new RegistryError('SIZE_INVALID', `body larger than ${limit} bytes`, undefined, {
    status: 413,
  });
}

/** Whether the request carries a body (Content-Length > 0 or chunked). */
export function hasBody(req: { headers: IncomingHttpHeaders }): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Parses `n` and `last` for tag and catalog listings. */
export function pageParams(req: Request): { n?: number; last?: string } {
  const page: { n?: number; last?: string } = {};
  const n = req.query.n;
  if (n !== undefined) {
    if (typeof n !== 'string' || !/^\d{1,9}$/.test(n))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n });
    page.n = Number(n);
  }
  if (typeof req.query.last === 'string') page.last = req.query.last;
  return page;
}

/** Adds the RFC 5988 `Link: <...>; rel="next"` header for paginated lists. */
export function setNextLink(res: Response, path: string, n: number, last: string): void {
  res.setHeader('Link', `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`);
}
