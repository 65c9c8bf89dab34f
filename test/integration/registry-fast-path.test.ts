// The fast path (registry/fast-path.ts) answers cached manifest GET/HEAD and blob HEAD before
// Express; its replies must be the router's: the same headers (X-Request-Id echoed), an
// access-log line, and the request metrics. A query string keeps a request off the fast path
// (its pattern has none), so the same request is sent once through each path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startServer } from '../../registry/server.js';
import { makeImage, pushImage, sha256, testConfig } from '../helpers/registry-server.js';

test('fast path and router: same headers, request id, access log and metrics', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-fast-'));
  const lines: Array<{ reqId?: string; url?: string; status?: number; msg?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const config = testConfig(root);
  const reg = await startServer(config, { logger });
  try {
    const image = makeImage([2000]);
    await pushImage(reg.url, 'fast/app', 'v1', image);
    const layer = sha256(image.layers[0]!);
    const cases: Array<[string, string]> = [
      ['GET', '/v2/fast/app/manifests/v1'],
      ['HEAD', `/v2/fast/app/manifests/${image.digest}`],
      ['HEAD', `/v2/fast/app/blobs/${layer}`],
    ];
    for (const [method, path] of cases) {
      const ask = async (url: string, id: string) => {
        const res = await fetch(url, { method, headers: { 'X-Request-Id': id } });
        const body = Buffer.from(await res.arrayBuffer());
        const headers = Object.fromEntries([...res.headers].filter(([k]) => k !== 'date'));
        return { status: res.status, headers, body };
      };
      const routed = await ask(`${reg.url}${path}?via=router`, `router-${method}`);
      // The router has filled the caches: the same request without a query is a fast-path hit.
      const ref = path.split('/').pop()!;
      const cached = path.includes('/manifests/')
        ? reg.registry.manifests.cached('fast/app', ref)
        : reg.registry.cachedBlobSize('fast/app', ref);
      assert.ok(cached !== undefined, `${method} ${path} is cached for the fast path`);
      const fast = await ask(`${reg.url}${path}`, `fast-${method}`);
      assert.equal(fast.status, 200);
      assert.deepEqual(
        { ...fast.headers, 'x-request-id': 'ID' },
        { ...routed.headers, 'x-request-id': 'ID' },
        `${method} ${path}: the same headers`,
      );
      assert.equal(routed.headers['x-request-id'], `router-${method}`);
      assert.equal(fast.headers['x-request-id'], `fast-${method}`);
      assert.ok(fast.body.equals(routed.body), 'the same body');
      for (const id of [`router-${method}`, `fast-${method}`]) {
        const line = lines.find((l) => l.reqId === id);
        assert.ok(line, `an access-log line for ${id}`);
        assert.equal(line.msg, 'request');
        assert.equal(line.status, 200);
      }
    }
    // Both manifest GETs counted, whichever path answered.
    const metrics = await fetch(`${reg.url}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      /tsregistry_http_requests_total\{method="GET",route="manifests",status="200"\} 2\n/,
    );
  } finally {
    await reg.close();
    rmSync(root, { recursive: true, force: true });
  }
});
