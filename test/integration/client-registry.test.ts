// RegistryClient against the real reference registry (docker-registry, no auth): blob upload
// (monolithic and chunked), HEAD, verified GET, cross-repo mount, manifests, tag pagination,
// delete, docker-like errors, and a download that resumes after the connection is cut.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { makeSelfSigned } from '../helpers/self-signed.js';
import { digestOf } from '../../shared/digest.js';
import { RegistryClient } from '../../shared/client/registry-client.js';
import type { TsdockError } from '../../shared/errors.js';
import { MediaType } from '../../shared/media-types.js';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';

let reg: ReferenceRegistry;
before(async () => {
  reg = await startReferenceRegistry();
});
after(async () => {
  await reg?.close();
});

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const src = (data: Buffer) => (start: number) => Readable.from([data.subarray(start)]);

function manifestFor(config: Buffer, layer: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayer, digest: digestOf(layer), size: layer.length }],
    }),
  );
}

test('monolithic upload, HEAD, verified GET, skip when present', async () => {
  const c = new RegistryClient({ registry: reg.host });
  await c.ping();
  const data = randomBytes(300_000);
  const digest = digestOf(data);
  assert.equal(await c.headBlob('t/a', digest), undefined);
  assert.equal(await c.uploadBlob('t/a', src(data), { digest, size: data.length }), 'uploaded');
  assert.equal(await c.headBlob('t/a', digest), data.length);
  assert.deepEqual(await readAll(await c.getBlob('t/a', digest)), data);
  assert.equal(await c.uploadBlob('t/a', src(data), { digest, size: data.length }), 'exists');
  const tail = await readAll(await c.getBlob('t/a', digest, { start: 1000 }));
  assert.deepEqual(tail, data.subarray(1000));
});

test('chunked upload in PATCH pieces (seen on the wire)', async () => {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.headers['content-range'] ?? ''}`);
    const up = http.request(
      `${reg.url}${req.url}`,
      { method: req.method, headers: req.headers },
      (ur) => {
        const headers = { ...ur.headers };
        // Keep the client talking through the proxy when it follows upload Locations.
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(reg.url, '');
        res.writeHead(ur.statusCode ?? 502, headers);
        ur.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const c = new RegistryClient({ registry: host, chunkSize: 100_000 });
    const data = randomBytes(350_123);
    const digest = digestOf(data);
    assert.equal(
      await c.uploadBlob('t/chunked', src(data), { digest, size: data.length, chunked: true }),
      'uploaded',
    );
    assert.deepEqual(await readAll(await c.getBlob('t/chunked', digest)), data);
    const patches = seen.filter((s) => s.startsWith('PATCH'));
    assert.deepEqual(patches, [
      'PATCH 0-99999',
      'PATCH 100000-199999',
      'PATCH 200000-299999',
      'PATCH 300000-350122',
    ]);
    // Big blobs take the chunked path by themselves.
    seen.length = 0;
    const big = randomBytes(250_000);
    const c2 = new RegistryClient({ registry: host, monolithicLimit: 100_000, chunkSize: 64_000 });
    assert.equal(
      await c2.uploadBlob('t/chunked', src(big), { digest: digestOf(big), size: big.length }),
      'uploaded',
    );
    assert.equal(seen.filter((s) => s.startsWith('PATCH')).length, 4);
    assert.equal(await c2.headBlob('t/chunked', digestOf(big)), big.length);
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test('a wrong digest is refused and nothing is stored', async () => {
  const c = new RegistryClient({ registry: reg.host });
  const data = randomBytes(1000);
  const wrong = digestOf(Buffer.from('something else'));
  await assert.rejects(
    c.uploadBlob('t/bad', src(data), { digest: wrong, size: data.length }),
    /digest|400/i,
  );
  assert.equal(await c.headBlob('t/bad', wrong), undefined);
});

test('cross-repo mount and upload with mountFrom', async () => {
  const c = new RegistryClient({ registry: reg.host });
  const data = randomBytes(5000);
  const digest = digestOf(data);
  await c.uploadBlob('t/src', src(data), { digest, size: data.length });
  assert.equal(await c.mountBlob('t/dst1', digest, 't/src'), true);
  assert.equal(await c.headBlob('t/dst1', digest), data.length);
  assert.equal(
    await c.uploadBlob('t/dst2', src(data), { digest, size: data.length, mountFrom: ['t/src'] }),
    'mounted',
  );
  const other = randomBytes(10);
  assert.equal(await c.mountBlob('t/dst1', digestOf(other), 't/src'), false);
});

test('manifests by tag and digest, tags with pagination, delete, errors', async () => {
  const c = new RegistryClient({ registry: reg.host });
  const config = Buffer.from(
    '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
  );
  const layer = randomBytes(100);
  await c.uploadBlob('t/m', src(config), { digest: digestOf(config), size: config.length });
  await c.uploadBlob('t/m', src(layer), { digest: digestOf(layer), size: layer.length });
  const manifest = manifestFor(config, layer);
  const tags = ['v1', 'v2', 'v3', 'v4', 'v5'];
  for (const t of tags)
    assert.equal(
      await c.putManifest('t/m', t, manifest, MediaType.OciManifest),
      digestOf(manifest),
    );
  const got = await c.getManifest('t/m', 'v3');
  assert.deepEqual(got.bytes, manifest);
  assert.equal(got.mediaType, MediaType.OciManifest);
  assert.equal(got.digest, digestOf(manifest));
  assert.deepEqual((await c.getManifest('t/m', digestOf(manifest))).bytes, manifest);
  const head = await c.headManifest('t/m', 'v1');
  assert.equal(head?.digest, digestOf(manifest));
  assert.equal(head?.size, manifest.length);
  assert.deepEqual((await c.listTags('t/m', 2)).sort(), tags);
  await c.deleteManifest('t/m', digestOf(manifest));
  await assert.rejects(
    c.getManifest('t/m', 'v1'),
    /manifest for 127\.0\.0\.1:\d+\/t\/m:v1 not found/,
  );
  // As docker says for a 404 MANIFEST_UNKNOWN (the reference registry's answer for unknown repos).
  await assert.rejects(
    c.getManifest('t/nope', 'latest'),
    /manifest for 127\.0\.0\.1:\d+\/t\/nope:latest not found/,
  );
});

test('a download whose connection breaks mid-blob resumes with Range', async () => {
  const c0 = new RegistryClient({ registry: reg.host });
  const data = randomBytes(3 * 1024 * 1024);
  const digest = digestOf(data);
  await c0.uploadBlob('t/resume', src(data), { digest, size: data.length });
  // A proxy that cuts the first two blob responses after 1 MiB and records Range headers.
  const ranges: (string | undefined)[] = [];
  let cuts = 0;
  const proxy = http.createServer((req, res) => {
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    if (isBlob) ranges.push(req.headers.range);
    const up = http.request(
      `${reg.url}${req.url}`,
      { method: req.method, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (!isBlob || cuts >= 2) return void ur.pipe(res);
        cuts++;
        let sent = 0;
        ur.on('data', (chunk: Buffer) => {
          if (sent >= 1024 * 1024) return;
          res.write(chunk);
          sent += chunk.length;
          if (sent >= 1024 * 1024) {
            ur.destroy();
            res.socket?.destroy();
          }
        });
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const port = (proxy.address() as AddressInfo).port;
    const c = new RegistryClient({ registry: `127.0.0.1:${port}` });
    const got = await readAll(await c.getBlob('t/resume', digest, { size: data.length }));
    assert.equal(got.length, data.length);
    assert.deepEqual(got, data);
    assert.equal(cuts, 2);
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
    const resumedAt = Number(/=(\d+)-/.exec(ranges[1]!)![1]);
    assert.ok(resumedAt > 0 && resumedAt < data.length, `resumed at ${resumedAt}`);
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test('uploads survive a connection cut mid-body (monolithic PUT and chunked PATCH)', async () => {
  const cut = new Set<string>();
  const proxy = http.createServer((req, res) => {
    const method = req.method ?? '';
    const cutThis =
      (method === 'PUT' || method === 'PATCH') &&
      !cut.has(method) &&
      Number(req.headers['content-length']) > 100_000;
    const up = http.request(`${reg.url}${req.url}`, { method, headers: req.headers }, (ur) => {
      const headers = { ...ur.headers };
      if (typeof headers.location === 'string')
        headers.location = headers.location.replace(reg.url, '');
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    up.on('error', () => undefined);
    if (!cutThis) return void req.pipe(up);
    cut.add(method);
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      if (sent > 50_000) return;
      up.write(chunk);
      sent += chunk.length;
      if (sent > 50_000) {
        up.destroy();
        req.socket.destroy();
      }
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const c = new RegistryClient({ registry: host, chunkSize: 150_000 });
    const mono = randomBytes(400_000);
    assert.equal(
      await c.uploadBlob('t/cut', src(mono), { digest: digestOf(mono), size: mono.length }),
      'uploaded',
    );
    assert.deepEqual(await readAll(await c.getBlob('t/cut', digestOf(mono))), mono);
    const chunked = randomBytes(400_000);
    const d2 = digestOf(chunked);
    assert.equal(
      await c.uploadBlob('t/cut', src(chunked), {
        digest: d2,
        size: chunked.length,
        chunked: true,
      }),
      'uploaded',
    );
    assert.deepEqual(await readAll(await c.getBlob('t/cut', d2)), chunked);
    assert.deepEqual([...cut].sort(), ['PATCH', 'PUT']);
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test('a blob whose bytes do not match its digest fails the stream', async () => {
  // A fake registry that serves wrong bytes for any blob.
  const srv = http.createServer((req, res) => {
    if (req.url === '/v2/') return void res.end('{}');
    res.writeHead(200, { 'content-length': '5', 'docker-content-digest': 'sha256:x' });
    res.end('hello');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const c = new RegistryClient({ registry: `127.0.0.1:${(srv.address() as AddressInfo).port}` });
    const digest = digestOf(Buffer.from('world'));
    await assert.rejects(readAll(await c.getBlob('x/y', digest)), /digest mismatch/);
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('5xx answers are retried', async () => {
  let calls = 0;
  const srv = http.createServer((_req, res) => {
    calls++;
    if (calls <= 2) {
      res.writeHead(503);
      return void res.end();
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"name":"x/y","tags":["a"]}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const c = new RegistryClient({ registry: `127.0.0.1:${(srv.address() as AddressInfo).port}` });
    assert.deepEqual(await c.listTags('x/y'), ['a']);
    assert.ok(calls >= 3);
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('TLS: a self-signed registry fails with an --insecure hint, and works with insecure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-tls-'));
  try {
    makeSelfSigned(dir);
    const srv = https.createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"name":"a/b","tags":["t1"]}');
      },
    );
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    try {
      const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const strict = new RegistryClient({ registry: host, insecure: false });
      await assert.rejects(strict.listTags('a/b'), (err: TsdockError) => {
        assert.match(err.toLine(), /^TLS error talking to 127\.0\.0\.1:\d+: .*use --insecure$/);
        return true;
      });
      const loose = new RegistryClient({ registry: host });
      assert.deepEqual(await loose.listTags('a/b'), ['t1']);
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((ok) => srv.close(() => ok()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
