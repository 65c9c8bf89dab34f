// The client's HTTP layer against a scripted local server: 429 (and 503) are retried with
// backoff, Retry-After (seconds or an HTTP date) is waited for, streamed bodies are sent afresh
// on each attempt, attempts are bounded; and the RegistryClient surfaces a final 429 as an error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { readBody, send } from '../../shared/client/http.js';
import { RegistryClient } from '../../shared/client/registry-client.js';

interface Seen {
  at: number;
  method: string;
  url: string;
  body: string;
}

/** The reply for the n-th request (0-based) of a path. */
type Script = (n: number) => { status: number; headers?: Record<string, string>; body?: string };

let server: http.Server;
let base: string;
const scripts = new Map<string, Script>();
const seen = new Map<string, Seen[]>();

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const list = seen.get(path) ?? [];
      seen.set(path, list);
      list.push({
        at: Date.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        body: Buffer.concat(chunks).toString(),
      });
      const script = scripts.get(path);
      const reply = script ? script(list.length - 1) : { status: 404 };
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const tooMany = (headers: Record<string, string> = {}) => ({
  status: 429,
  headers,
  body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
});

test('429 is retried until it succeeds', async () => {
  scripts.set('/a', (n) => (n < 2 ? tooMany() : { status: 200, body: 'ok' }));
  const res = await send({ method: 'GET', url: `${base}/a` });
  assert.equal(res.status, 200);
  assert.equal((await readBody(res)).toString(), 'ok');
  assert.equal(seen.get('/a')!.length, 3);
});

test('Retry-After in seconds is waited for (longer than the backoff would be)', async () => {
  scripts.set('/b', (n) => (n === 0 ? tooMany({ 'retry-after': '1' }) : { status: 200 }));
  const res = await send({ method: 'GET', url: `${base}/b` });
  assert.equal(res.status, 200);
  await readBody(res);
  const [first, second] = seen.get('/b')!;
  const waited = second!.at - first!.at;
  // Without Retry-After the first backoff is 150-250 ms.
  assert.ok(waited >= 950, `retried after ${waited} ms, Retry-After said 1 s`);
  assert.ok(waited < 5000, `waited ${waited} ms`);
});

test('Retry-After as an HTTP date is waited for', async () => {
  let when = 0;
  scripts.set('/c', (n) => {
    if (n > 0) return { status: 200 };
    // HTTP dates have whole seconds: 2 s ahead means a wait of 1-2 s.
    when = Math.floor(Date.now() / 1000) * 1000 + 2000;
    return tooMany({ 'retry-after': new Date(when).toUTCString() });
  });
  const res = await send({ method: 'GET', url: `${base}/c` });
  assert.equal(res.status, 200);
  await readBody(res);
  const [first, second] = seen.get('/c')!;
  const waited = second!.at - first!.at;
  assert.ok(waited >= 900, `retried after ${waited} ms, Retry-After said ${new Date(when)}`);
  assert.ok(second!.at >= when - 100, 'not before the date');
});

test('attempts are bounded: the last 429 is returned', async () => {
  scripts.set('/d', () => tooMany({ 'retry-after': '0' }));
  const res = await send({ method: 'GET', url: `${base}/d`, attempts: 3 });
  assert.equal(res.status, 429);
  assert.match((await readBody(res)).toString(), /TOOMANYREQUESTS/);
  assert.equal(seen.get('/d')!.length, 3);
});

test('a streamed body is opened afresh for each attempt', async () => {
  scripts.set('/e', (n) => (n === 0 ? tooMany({ 'retry-after': '0' }) : { status: 201 }));
  let opened = 0;
  const payload = 'x'.repeat(100_000);
  const res = await send({
    method: 'PUT',
    url: `${base}/e`,
    body: () => {
      opened++;
      return Readable.from([payload.slice(0, 50_000), payload.slice(50_000)]);
    },
    bodyLength: payload.length,
  });
  assert.equal(res.status, 201);
  await readBody(res);
  assert.equal(opened, 2);
  assert.deepEqual(
    seen.get('/e')!.map((s) => s.body.length),
    [payload.length, payload.length],
  );
});

test('503 with Retry-After is retried as well', async () => {
  scripts.set('/f', (n) =>
    n === 0 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 },
  );
  const res = await send({ method: 'GET', url: `${base}/f` });
  assert.equal(res.status, 200);
  await readBody(res);
  assert.equal(seen.get('/f')!.length, 2);
});

test('RegistryClient: a rate-limited manifest GET is retried, and a lasting 429 is an error', async () => {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'0'.repeat(64)}`,
      size: 2,
    },
    layers: [],
  });
  scripts.set('/v2/', () => ({ status: 200, body: '{}' }));
  scripts.set('/v2/lib/app/manifests/v1', (n) =>
    n < 2
      ? tooMany({ 'retry-after': '0' })
      : {
          status: 200,
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: manifest,
        },
  );
  scripts.set('/v2/lib/app/manifests/v2', () => tooMany({ 'retry-after': '0' }));
  const client = new RegistryClient({ registry: base.slice('http://'.length), credentials: null });
  const m = await client.getManifest('lib/app', 'v1');
  assert.equal(m.bytes.toString(), manifest);
  assert.equal(seen.get('/v2/lib/app/manifests/v1')!.length, 3);
  await assert.rejects(client.getManifest('lib/app', 'v2'), (err: Error) => {
    assert.match(err.message, /too many requests|rate|429|slow down/i);
    return true;
  });
  assert.equal(seen.get('/v2/lib/app/manifests/v2')!.length, 4, 'default attempts: 4');
});

test('a refused connection fails at once (one connection attempt); a reset one is retried', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const sockets: unknown[] = [];
  const count = (s: unknown) => sockets.push(s);
  diagnostics.subscribe('net.client.socket', count);
  try {
    await assert.rejects(
      send({ method: 'GET', url: `http://127.0.0.1:${port}/v2/` }),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`cannot connect to registry 127.0.0.1:${port}: ECONNREFUSED`),
        );
        return true;
      },
    );
    assert.equal(sockets.length, 1, 'no second attempt at a port nothing listens on');
    // A server that drops the first connection: the reset is worth another attempt.
    let n = 0;
    const open = new Set<net.Socket>();
    const flaky = net.createServer((s) => {
      open.add(s);
      if (n++ === 0) s.resetAndDestroy();
      else s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/v2/`;
      const res = await send({ method: 'GET', url });
      assert.equal(res.status, 200);
      assert.equal((await readBody(res)).toString(), 'ok');
      assert.equal(n, 2);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  } finally {
    diagnostics.unsubscribe('net.client.socket', count);
  }
});
