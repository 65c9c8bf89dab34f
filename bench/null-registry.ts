// A registry that does nothing, to measure what the client alone can do (bench/registry.ts runs
// skopeo against it beside the real registries): uploaded blob bytes are counted and dropped
// (no hash, no disk), pulled blobs are served from memory (the layout's blobs, read once at
// start), manifests are kept in memory. Just enough of the distribution API for skopeo copy.
// Usage (own process, so the benchmark's spawnSync does not block it):
//   node dist/bench/null-registry.js PORT OCI_LAYOUT_DIR
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';

const port = Number(process.argv[2]);
const layout = process.argv[3]!;
const blobs = new Map<string, Buffer>();
for (const hex of readdirSync(join(layout, 'blobs', 'sha256')))
  blobs.set(`sha256:${hex}`, readFileSync(join(layout, 'blobs', 'sha256', hex)));
const manifests = new Map<string, { bytes: Buffer; type: string; digest: string }>();
let uploads = 0;

function notFound(res: ServerResponse, code: string): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ errors: [{ code, message: 'unknown' }] }));
}

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://null');
  const path = url.pathname;
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  let m: RegExpExecArray | null;
  if (path === '/v2/') {
    req.resume();
    return void res.end('{}');
  }
  if ((m = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(path)) && req.method === 'POST') {
    req.resume();
    res.statusCode = 202;
    res.setHeader('Location', `/v2/${m[1]}/blobs/uploads/u${uploads++}`);
    res.setHeader('Range', '0-0');
    res.setHeader('Content-Length', '0');
    return void res.end();
  }
  if ((m = /^\/v2\/(.+)\/blobs\/uploads\/.+$/.exec(path))) {
    const repo = m[1]!;
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      res.setHeader('Content-Length', '0');
      if (req.method === 'PATCH') {
        res.statusCode = 202;
        res.setHeader('Location', path);
        res.setHeader('Range', `0-${Math.max(size - 1, 0)}`);
        return void res.end();
      }
      const digest = url.searchParams.get('digest') ?? '';
      res.statusCode = 201;
      res.setHeader('Location', `/v2/${repo}/blobs/${digest}`);
      res.setHeader('Docker-Content-Digest', digest);
      res.end();
    });
    return;
  }
  if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path))) {
    req.resume();
    // Blob HEADs answer 404 so that pushes upload everything; GETs serve from memory.
    const blob = req.method === 'GET' ? blobs.get(m[2]!) : undefined;
    if (!blob) return notFound(res, 'BLOB_UNKNOWN');
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(blob.length));
    res.setHeader('Docker-Content-Digest', m[2]!);
    return void res.end(blob);
  }
  if ((m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(path))) {
    const ref = m[2]!;
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        const entry = { bytes, type: req.headers['content-type'] ?? '', digest };
        manifests.set(ref, entry).set(digest, entry);
        res.statusCode = 201;
        res.setHeader('Docker-Content-Digest', digest);
        res.setHeader('Content-Length', '0');
        res.end();
      });
      return;
    }
    req.resume();
    const entry = manifests.get(ref);
    if (!entry) return notFound(res, 'MANIFEST_UNKNOWN');
    res.setHeader('Content-Type', entry.type);
    res.setHeader('Docker-Content-Digest', entry.digest);
    res.setHeader('Content-Length', String(entry.bytes.length));
    return void res.end(req.method === 'HEAD' ? undefined : entry.bytes);
  }
  req.resume();
  notFound(res, 'UNSUPPORTED');
}).listen(port, '127.0.0.1');
