// Blob routes (spec "Pulling blobs", "Deleting blobs"): HEAD, GET with Range, DELETE.
import type { Request, Response, Router } from 'express';
import { RegistryError } from '../errors.js';
import { isPathNotFound } from '../storage/driver.js';
import { locals, onRepo, requireAccess, resourceRouter, type HandlerContext } from './common.js';

export function blobsRouter(ctx: HandlerContext): Router {
  const router = resourceRouter();
  const path = '/v2/*name/blobs/:digest';
  router.head(path, requireAccess(ctx, onRepo('pull')), async (_req, res) => {
    const { repo, digest } = locals(res);
    const size = await ctx.registry.blobSize(repo, digest);
    blobHeaders(res, digest, size);
    res.status(200).end();
  });
  router.get(path, requireAccess(ctx, onRepo('pull')), async (req, res) => {
    const { repo, digest } = locals(res);
    const size = await ctx.registry.blobSize(repo, digest);
    const redirect = await ctx.registry.blobRedirect(digest);
    if (redirect) return void res.redirect(307, redirect);
    const range = parseRange(req, size);
    blobHeaders(res, digest, range ? range.end - range.start + 1 : size);
    if (range) {
      res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    } else res.status(200);
    if (size === 0) return void res.end();
    await sendBody(res, () =>
      ctx.registry.sendBlob(digest, res, range?.start ?? 0, range?.end ?? size - 1),
    );
  });
  router.delete(path, requireAccess(ctx, onRepo('delete')), async (_req, res) => {
    if (!ctx.registry.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled');
    const { repo, digest } = locals(res);
    await ctx.registry.deleteBlob(repo, digest);
    res.status(202).setHeader('Content-Length', '0').end();
  });
  return router;
}

/**
 * Runs `send` (which writes the body) and ends the response. A failure before the first byte
 * (the blob vanished: BLOB_UNKNOWN) is a normal error reply; once bytes are out it can only cut
 * the connection (the client resumes with Range).
 */
export async function sendBody(res: Response, send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if (res.headersSent) return void res.destroy();
    throw isPathNotFound(err) ? new RegistryError('BLOB_UNKNOWN') : err;
  }
  res.end();
}

export function blobHeaders(res: Response, digest: string, length: number): void {
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(length));
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('ETag', `"${digest}"`);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'max-age=31536000');
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; RANGE_INVALID (416) when unsatisfiable. */
function parseRange(req: Request, size: number): { start: number; end: number } | undefined {
  const header = req.headers.range;
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const bad = (): RegistryError =>
    new RegistryError('RANGE_INVALID', `invalid range ${header.slice(0, 100)}`, undefined, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  if (!m || (m[1] === '' && m[2] === '')) throw bad();
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(size - Number(m[2]), 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw bad();
  return { start, end };
}
