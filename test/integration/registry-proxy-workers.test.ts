// The pull-through cache shared by processes on one storage: two tsregistry processes (as two
// workers are, on one storage root and one PostgreSQL database) in proxy mode, 8 concurrent
// pulls of the same uncached layer through each, cause ONE fetch at the upstream, counted by a
// gate in front of the upstream (a tsregistry). The gate holds the rest of each blob body until
// every client has its response headers, so all 16 pulls are in flight together, however the
// machine schedules them (no timing). Every client gets the right bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { postgresRegistryFixture } from '../helpers/postgres.js';
import {
  makeImage,
  pushImage,
  sha256,
  spawnRegistry,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

const { server, tempDir, track } = postgresRegistryFixture('stop');
const LAYER = 8 * 1024 * 1024;
let upstream: TestRegistry;
let gate: http.Server;
let gateUrl: string;
let blobGets = 0;
let release!: () => void;
const released = new Promise<void>((r) => (release = r));

before(async () => {
  upstream = await startRegistry();
  // Forwards to the upstream; a blob GET sends its headers and first MiB, then waits.
  gate = http.createServer((req, res) => {
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    if (isBlobGet) blobGets++;
    const up = new URL(upstream.url);
    const fwd = http.request(
      { host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        if (!isBlobGet) return void ures.pipe(res);
        let sent = 0;
        let held = false;
        ures.on('data', (c: Buffer) => {
          if (held || sent + c.length > 1024 * 1024) {
            if (!held) {
              held = true;
              ures.pause();
              void released.then(() => ures.resume());
            }
          }
          sent += c.length;
          res.write(c);
        });
        ures.on('end', () => res.end());
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
});

after(async () => {
  release();
  gate?.closeAllConnections();
  await new Promise<void>((r) => (gate ? gate.close(() => r()) : r()));
  await upstream?.close();
});

async function pull(url: string): Promise<{ status: number; digest: string }> {
  const res = await fetch(url);
  const body = (async () => {
    const hash = createHash('sha256');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    return `sha256:${hash.digest('hex')}`;
  })();
  return { status: res.status, digest: await body };
}

test('16 concurrent pulls through two processes on one storage cause one upstream fetch', async () => {
  const image = makeImage([LAYER]);
  const layer = sha256(image.layers[0]!);
  await pushImage(upstream.url, 'library/big', 'v1', image);
  const root = tempDir('tsreg-proxyw-');
  const dsn = await server().createDatabase('proxyworkers');
  const yaml =
    `metadata:\n  postgres:\n    dsn: ${dsn}\n    poolsize: 4\n` +
    `proxy:\n  remoteurl: ${gateUrl}\n  ttl: 1h\n`;
  const a = track(await spawnRegistry(root, yaml, ['--workers', '1']));
  const b = track(await spawnRegistry(root, yaml, ['--workers', '1']));

  // every request has its headers before the gate lets the upstream body finish
  const responses = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      fetch(`${(i % 2 ? b : a).url}/v2/library/big/blobs/${layer}`),
    ),
  );
  for (const r of responses) assert.equal(r.status, 200);
  release();
  const digests = await Promise.all(
    responses.map(async (res) => {
      const hash = createHash('sha256');
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(c);
      return `sha256:${hash.digest('hex')}`;
    }),
  );
  for (const d of digests) assert.equal(d, layer);
  assert.equal(blobGets, 1, 'one GET of the blob at the upstream for both processes');
  // cached for both now, nothing left of the fetch
  for (const p of [a, b])
    assert.deepEqual(await pull(`${p.url}/v2/library/big/blobs/${layer}`), {
      status: 200,
      digest: layer,
    });
  assert.equal(blobGets, 1);
  assert.deepEqual(readdirSync(join(root, 'proxy-fetch')), []);
});
