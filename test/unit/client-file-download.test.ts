// Blob downloads straight into a file (shared/client/file-download.ts over bulk-get.ts) against
// local HTTP and HTTPS servers scripted to misbehave: connections cut mid-body are resumed with
// Range (and a server that ignores Range is skipped forward), redirects to another host drop
// Authorization, wrong or extra bytes fail the download, malformed or oversized headers are
// refused, and a first answer the bulk reader leaves to the http client (an auth challenge, a
// chunked body) is a NotBulkError; RegistryClient.downloadBlobToFile then fetches the blob
// through the http client into the same file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  NotBulkError,
  downloadToFile,
  fileDownloadStats,
} from '../../shared/client/file-download.js';
import { RegistryClient } from '../../shared/client/registry-client.js';
import { digestOf } from '../../shared/digest.js';
import { DigestMismatchError } from '../../shared/errors.js';

const blob = randomBytes(5 * 1024 * 1024 + 123);
const digest = digestOf(blob);
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-download-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler, tls?: { key: string; cert: string }) {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Serves `blob` at any path, honouring Range; `cut(offset)` says after how many bytes to hang up. */
function blobHandler(
  opts: { cut?: (offset: number) => number | undefined; ignoreRange?: boolean } = {},
): {
  handler: Handler;
  requests: { range?: string; authorization?: string }[];
} {
  const requests: { range?: string; authorization?: string }[] = [];
  const handler: Handler = (req, res) => {
    requests.push({ range: req.headers.range, authorization: req.headers.authorization });
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const offset = m && !opts.ignoreRange ? Number(m[1]) : 0;
    const rest = blob.subarray(offset);
    const headers: Record<string, string> = { 'content-length': String(rest.length) };
    if (offset > 0) headers['content-range'] = `bytes ${offset}-${blob.length - 1}/${blob.length}`;
    res.writeHead(offset > 0 ? 206 : 200, headers);
    const cut = opts.cut?.(offset);
    if (cut === undefined) return void res.end(rest);
    res.write(rest.subarray(0, cut), () => res.socket?.destroy());
  };
  return { handler, requests };
}

async function download(url: string, extra: Partial<Parameters<typeof downloadToFile>[0]> = {}) {
  const file = join(dir, `f-${Math.random()}`);
  const fd = openSync(file, 'w');
  try {
    const size = await downloadToFile({
      url,
      headers: { authorization: 'Bearer secret' },
      idleMs: 5000,
      digest,
      fd,
      ...extra,
    });
    return { size, bytes: readFileSync(file) };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

test('a blob lands in the file whole and verified, the size told before the first byte', async () => {
  const { handler } = blobHandler();
  const s = await serve(handler);
  try {
    const sizes: (number | undefined)[] = [];
    let written = 0;
    const r = await download(`${s.url}/v2/x/blobs/${digest}`, {
      onSize: (n) => void sizes.push(n),
      onWritten: (n) => void (written += n),
    });
    assert.equal(r.size, blob.length);
    assert.ok(r.bytes.equals(blob));
    assert.deepEqual(sizes, [blob.length]);
    assert.equal(written, blob.length);
  } finally {
    await s.close();
  }
});

test('connections cut mid-body are resumed with Range; a server ignoring Range is skipped forward', async () => {
  for (const ignoreRange of [false, true]) {
    const cuts = [1_000_000, 2_500_000];
    const { handler, requests } = blobHandler({
      ignoreRange,
      cut: () => {
        const c = cuts.shift();
        return c === undefined ? undefined : ignoreRange ? c * 2 : c;
      },
    });
    const s = await serve(handler);
    try {
      const r = await download(`${s.url}/b`);
      assert.ok(r.bytes.equals(blob), `ignoreRange=${ignoreRange}`);
      assert.equal(requests[0]!.range, undefined);
      assert.match(requests[1]!.range ?? '', /^bytes=\d+-$/);
      assert.equal(requests.length, 3);
    } finally {
      await s.close();
    }
  }
});

test('a redirect to another host drops Authorization; to the same host keeps it', async () => {
  const { handler, requests } = blobHandler();
  const cdn = await serve(handler);
  const reg = await serve((req, res) => {
    requests.push({ authorization: req.headers.authorization });
    if (req.url === '/first') return void res.writeHead(307, { location: '/second' }).end();
    res.writeHead(307, { location: `${cdn.url}/blob` }).end();
  });
  try {
    const r = await download(`${reg.url}/first`);
    assert.ok(r.bytes.equals(blob));
    assert.deepEqual(
      requests.map((q) => q.authorization),
      ['Bearer secret', 'Bearer secret', undefined],
    );
  } finally {
    await reg.close();
    await cdn.close();
  }
});

test("wrong bytes, extra bytes, a size other than the descriptor's fail the download", async () => {
  const wrong = Buffer.from(blob);
  wrong[wrong.length - 1] = wrong[wrong.length - 1]! ^ 1;
  const liar = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': String(wrong.length) }).end(wrong);
  });
  try {
    await assert.rejects(download(`${liar.url}/b`), DigestMismatchError);
    await assert.rejects(download(`${liar.url}/b`, { size: blob.length - 1 }), /expected/);
  } finally {
    await liar.close();
  }
});

test('malformed or oversized response headers are refused; an auth challenge or a chunked body is left to the http client', async () => {
  const raw = await serve(() => {});
  const rawServer = (text: string) =>
    serve((req) => {
      req.socket.end(text);
    });
  const bad = await rawServer(
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  );
  const folded = await rawServer(
    'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 1\r\n\r\nx',
  );
  const huge = await rawServer(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  const auth = await serve((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end('{}');
  });
  const chunked = await serve((_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    res.end(blob);
  });
  try {
    await assert.rejects(download(`${bad.url}/b`), /malformed/);
    await assert.rejects(download(`${folded.url}/b`), /malformed/);
    await assert.rejects(download(`${huge.url}/b`), /over 64 KiB/);
    await assert.rejects(
      download(`${auth.url}/b`),
      (e: unknown) => e instanceof NotBulkError && e.status === 401,
    );
    await assert.rejects(
      download(`${chunked.url}/b`),
      (e: unknown) => e instanceof NotBulkError && e.status === 200,
    );
  } finally {
    for (const s of [raw, bad, folded, huge, auth, chunked]) await s.close();
  }
});

test("over TLS with the registry's own CA; an untrusted certificate fails", async () => {
  const keyFile = join(dir, 'k.pem');
  const certFile = join(dir, 'c.pem');
  const r = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  assert.equal(r.status, 0, String(r.stderr));
  const cert = readFileSync(certFile, 'utf8');
  const { handler } = blobHandler({ cut: (offset) => (offset === 0 ? 3_000_000 : undefined) });
  const s = await serve(handler, { key: readFileSync(keyFile, 'utf8'), cert });
  try {
    const got = await download(`${s.url}/b`, { tls: { ca: [cert] } });
    assert.ok(got.bytes.equals(blob));
    await assert.rejects(download(`${s.url}/b`), /self-signed|certificate/i);
  } finally {
    await s.close();
  }
});

test('RegistryClient.downloadBlobToFile reads in bulk, and through the http client when the registry sends chunks', async () => {
  let chunkedBody = false;
  const s = await serve((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (chunkedBody) {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      return void res.end(blob);
    }
    res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
  });
  const client = new RegistryClient({
    registry: new URL(s.url).host,
    endpoint: s.url,
    credentials: null,
  });
  try {
    for (const chunked of [false, true]) {
      chunkedBody = chunked;
      const before = { ...fileDownloadStats };
      const file = join(dir, `c-${chunked}`);
      const fd = openSync(file, 'w');
      const sizes: (number | undefined)[] = [];
      try {
        const n = await client.downloadBlobToFile('lib/x', digest, fd, {
          onSize: (size) => void sizes.push(size),
        });
        assert.equal(n, blob.length);
      } finally {
        closeSync(fd);
      }
      assert.ok(readFileSync(file).equals(blob));
      assert.deepEqual(sizes, [chunked ? undefined : blob.length]);
      assert.equal(fileDownloadStats.bulk - before.bulk, chunked ? 0 : 1);
      assert.equal(fileDownloadStats.fallback - before.fallback, chunked ? 1 : 0);
    }
  } finally {
    await s.close();
  }
});

test('an empty blob', async () => {
  const s = await serve((_req, res) => void res.writeHead(200, { 'content-length': '0' }).end());
  const file = join(dir, 'empty');
  const fd = openSync(file, 'w');
  try {
    const n = await downloadToFile({
      url: `${s.url}/b`,
      headers: {},
      idleMs: 5000,
      digest: digestOf(Buffer.alloc(0)),
      fd,
    });
    assert.equal(n, 0);
  } finally {
    closeSync(fd);
    await s.close();
  }
});
