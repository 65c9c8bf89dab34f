// Operations: /healthz, Prometheus /metrics (requests by route/status, bytes, GC runs), request
// ids, TLS with a certificate and key, and graceful shutdown that finishes in-flight requests.
import { test } from 'node:test';
import { makeSelfSigned } from '../helpers/self-signed.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushBlob, sha256, startRegistry } from '../helpers/registry-server.js';

test('healthz, metrics and request ids', async () => {
  const reg = await startRegistry();
  try {
    assert.deepEqual(await (await fetch(`${reg.url}/healthz`)).json(), { status: 'ok' });
    const d = await pushBlob(reg.url, 'ops/app', randomBytes(1234));
    await (await fetch(`${reg.url}/v2/ops/app/blobs/${d}`)).arrayBuffer();
    await (await fetch(`${reg.url}/v2/ops/app/blobs/${sha256('none')}`)).arrayBuffer();
    await reg.running.gc.run({ dryRun: true });
    const res = await fetch(`${reg.url}/v2/`, { headers: { 'X-Request-Id': 'abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    assert.match(
      (await fetch(`${reg.url}/v2/`)).headers.get('x-request-id') ?? '',
      /^[0-9a-f-]{36}$/,
    );
    const text = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(
      text,
      /tsregistry_http_requests_total\{method="POST",route="uploads",status="201"\} 1/,
    );
    assert.match(
      text,
      /tsregistry_http_requests_total\{method="GET",route="blobs",status="404"\} 1/,
    );
    assert.match(text, /tsregistry_http_bytes_in_total \d+/);
    assert.match(text, /tsregistry_gc_runs_total\{result="ok"\} 1/);
    assert.match(text, /tsregistry_upload_sessions 0/);
    await fetch(`${reg.url}/v2/ops/app/blobs/uploads/`, { method: 'POST' });
    assert.match(await (await fetch(`${reg.url}/metrics`)).text(), /tsregistry_upload_sessions 1/);
  } finally {
    await reg.close();
  }
});

test('TLS when given a certificate and key', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsreg-tls-'));
  try {
    makeSelfSigned(dir, 'ec');
    const reg = await startRegistry({
      configure: (c) =>
        (c.http.tls = { certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }),
    });
    try {
      assert.match(reg.url, /^https:/);
      const status = await new Promise<number>((resolve, reject) =>
        httpsRequest(`${reg.url}/v2/`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end(),
      );
      assert.equal(status, 200);
    } finally {
      await reg.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graceful shutdown finishes an in-flight upload', async () => {
  const reg = await startRegistry();
  const data = randomBytes(2 << 20);
  const post = await fetch(`${reg.url}/v2/ops/slow/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(post.headers.get('location')!, reg.url);
  // Send half the body; once the server has the request, start closing, then send the rest:
  // the request must complete.
  const arrived = once(reg.running.server, 'request');
  const req = request(loc, {
    method: 'PATCH',
    headers: { 'Content-Length': String(data.length) },
  });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  req.write(data.subarray(0, 1 << 20));
  await arrived;
  const closing = reg.close();
  req.end(data.subarray(1 << 20));
  assert.equal(await done, 202);
  await closing;
});
