// The web console's static files: `/` redirects to `/ui/`, `/ui/` is the page, `/ui/assets/*`
// the bundle esbuild built into dist/registry/ui/static/ (scripts/bundle.mjs). Every response
// carries a strict Content-Security-Policy (own scripts, styles and API calls only; no inline
// code, no frames, no forms posting elsewhere). The page itself holds no data: it signs in at
// /token and calls the registry API with a Bearer token, like any other client.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Response, type Router } from 'express';

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  version: string;
}

/** The built files, read once; undefined when the console was not built. */
function loadAssets(): { page: Buffer; assets: Map<string, Asset> } | undefined {
  if (!existsSync(`${STATIC_DIR}index.html`)) return undefined;
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSETS)) {
    const body = readFileSync(`${STATIC_DIR}${name}`);
    const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
    assets.set(name, { body, type, version });
  }
  const html = readFileSync(`${STATIC_DIR}index.html`, 'utf8').replace(
    /\{\{(app\.(?:js|css))\}\}/g,
    (_m, name: string) => `assets/${name}?v=${assets.get(name)!.version}`,
  );
  return { page: Buffer.from(html), assets };
}

export function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', UI_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

export function uiStaticRouter(): Router {
  const built = loadAssets();
  const router = express.Router({ strict: true });
  router.get('/', (_req, res) => void res.redirect(302, '/ui/'));
  router.get('/ui', (_req, res) => void res.redirect(301, '/ui/'));
  router.get('/ui/', (_req, res) => {
    securityHeaders(res);
    if (!built)
      return void res
        .status(503)
        .type('text/plain')
        .send('the console was not built: run npm run build\n');
    res.setHeader('Cache-Control', 'no-cache');
    res.status(200).type('text/html; charset=utf-8').end(built.page);
  });
  router.get('/ui/assets/:file', (req, res) => {
    securityHeaders(res);
    const asset = built?.assets.get(req.params.file);
    if (!asset) return void res.status(404).type('text/plain').send('not found\n');
    res.setHeader(
      'Cache-Control',
      req.query.v === asset.version ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    res.status(200).type(asset.type).end(asset.body);
  });
  return router;
}
