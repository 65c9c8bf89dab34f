// Upload routes (spec "Pushing blobs"): POST to start (or monolithic ?digest=, or mount
// ?mount=&from=), PATCH chunks (Content-Range) or a stream, PUT ?digest= to finish, GET for
// the progress, DELETE to cancel.
import type { Request, Response, Router } from 'express';
import { isDigest } from '../../shared/digest.js';
import { parseRepositoryName } from '../../shared/reference.js';
import { RegistryError } from '../errors.js';
import { rangeHeader, type ChunkRange } from '../services/uploads.js';
import type { Grant } from '../auth/access.js';
import {
  hasBody,
  locals,
  onRepo,
  requireAccess,
  resourceRouter,
  type HandlerContext,
} from './common.js';

export function uploadsRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  const base = '/v2/*name/blobs/uploads';
  const session = `${base}/:uuid`;
  const push = requireAccess(ctx, onRepo('pull', 'push'));

  router.post(base, push, async (req, res) => {
    const { repo, grant } = locals(res);
    const digest = query(req, 'digest');
    const mount = query(req, 'mount');
    const from = query(req, 'from');
    if (
      mount !== undefined &&
      from !== undefined &&
      isDigest(mount) &&
      validName(from) &&
      grant.can(from, 'pull')
    ) {
      if (await ctx.registry.mount(repo, from, mount)) {
        req.resume();
        return void created(res, repo, mount);
      }
    }
    if (digest !== undefined) {
      if (!isDigest(digest))
        throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest });
      const s = await ctx.registry.uploads.start(repo, clientOf(req, grant));
      await ctx.registry.uploads.complete(repo, s.uuid, digest, req);
      return void created(res, repo, digest);
    }
    req.resume();
    const s = await ctx.registry.uploads.start(repo, clientOf(req, grant));
    progress(res, repo, s.uuid, 0, 202);
  });

  router.get(session, push, async (_req, res) => {
    const { repo, uuid } = locals(res);
    const { size } = await ctx.registry.uploads.status(repo, uuid);
    progress(res, repo, uuid, size, 204);
  });

  router.patch(session, push, async (req, res) => {
    const { repo, uuid } = locals(res);
    const size = await ctx.registry.uploads.append(repo, uuid, req, contentRange(req));
    progress(res, repo, uuid, size, 202);
  });

  router.put(session, push, async (req, res) => {
    const { repo, uuid } = locals(res);
    const digest = query(req, 'digest');
    if (digest === undefined || !isDigest(digest)) {
      req.resume();
      throw new RegistryError(
        'DIGEST_INVALID',
        'a valid ?digest= is required to finish an upload',
        { digest },
      );
    }
    const body = hasBody(req) ? req : undefined;
    if (!body) req.resume();
    await ctx.registry.uploads.complete(repo, uuid, digest, body, body && contentRange(req));
    created(res, repo, digest);
  });

  router.delete(session, push, async (req, res) => {
    const { repo, uuid } = locals(res);
    req.resume();
    await ctx.registry.uploads.cancel(repo, uuid);
    res.status(204).end();
  });
  return router;
}

/** Who the per-client cap on open sessions counts against: the token subject, else the address. */
function clientOf(req: Request, grant: Grant): string {
  if (grant.subject) return `user:${grant.subject}`;
  const addr = req.socket.remoteAddress ?? '';
  return `addr:${addr.startsWith('::ffff:') ? addr.slice(7) : addr}`;
}

function query(req: Request, key: string): string | undefined {
  const v = req.query[key];
  return typeof v === 'string' ? v : undefined;
}

function validName(name: string): boolean {
  try {
    parseRepositoryName(name);
    return true;
  } catch {
    return false;
  }
}

/** `Content-Range: <start>-<end>` (also accepts a `bytes ` / `bytes=` prefix). */
function contentRange(req: Request): ChunkRange | undefined {
  const header = req.headers['content-range'];
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m || Number(m[2]) < Number(m[1])) {
    req.resume();
    throw new RegistryError('RANGE_INVALID', 'invalid Content-Range', {
      range: header.slice(0, 100),
    });
  }
  const range = { start: Number(m[1]), end: Number(m[2]) };
  const len = req.headers['content-length'];
  if (len !== undefined && Number(len) !== range.end - range.start + 1) {
    req.resume();
    throw new RegistryError('RANGE_INVALID', 'Content-Length does not match Content-Range', {
      range: header,
    });
  }
  return range;
}

function progress(res: Response, repo: string, uuid: string, size: number, status: number): void {
  res.setHeader('Location', `/v2/${repo}/blobs/uploads/${uuid}`);
  res.setHeader('Range', rangeHeader(size));
  res.setHeader('Docker-Upload-UUID', uuid);
  res.setHeader('Content-Length', '0');
  res.status(status).end();
}

function created(res: Response, repo: string, digest: string): void {
  res.setHeader('Location', `/v2/${repo}/blobs/${digest}`);
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('Content-Length', '0');
  res.status(201).end();
}
