// Proxy upstreams over TLS: an upstream tsregistry serving HTTPS with a self-signed certificate;
// the route given that certificate as `tls.ca` pulls through it (skopeo), the route without it
// refuses the unverified upstream with a 502 naming the TLS error. Blobs come over TLS through
// the bulk reader (shared/client/bulk-get.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSigned } from '../helpers/self-signed.js';
import {
  makeImage,
  run,
  startRegistry,
  writeOciLayout,
  type TestRegistry,
} from '../helpers/registry-server.js';
import type { UpstreamConfig } from '../../registry/proxy/config.js';
import { fileDownloadStats } from '../../shared/client/file-download.js';

let dir: string;
let upstream: TestRegistry;
let proxy: TestRegistry;

function route(prefix: string, remoteurl: string, ca?: string): UpstreamConfig {
  return {
    prefix,
    remoteurl,
    ttl: 60,
    tls: { insecureskipverify: false, ...(ca ? { ca } : {}) },
    local: [],
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsreg-proxy-tls-'));
  const cert = makeSelfSigned(dir);
  upstream = await startRegistry({
    configure: (c) => {
      c.http.tls = { certificate: cert.certFile, key: cert.keyFile };
    },
  });
  writeOciLayout(join(dir, 'layout'), 'v1', makeImage([4096]));
  const push = await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    `oci:${join(dir, 'layout')}:v1`,
    `docker://${upstream.host}/team/app:v1`,
  ]);
  assert.equal(push.status, 0, push.stderr);
  const url = `https://${upstream.host}`;
  proxy = await startRegistry({
    configure: (c) => {
      c.proxy = {
        maxsize: 0,
        upstreams: [route('ca', url, readFileSync(cert.certFile, 'utf8')), route('noca', url)],
      };
    },
  });
});

after(async () => {
  await proxy?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an upstream with its own CA: trusted with tls.ca, refused without', async () => {
  const bulkBefore = fileDownloadStats.bulk;
  const r = await run('skopeo', [
    'copy',
    '--src-tls-verify=false',
    `docker://${proxy.host}/ca/team/app:v1`,
    `oci:${join(dir, 'out')}:v1`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  // the config and the layer, read over TLS in bulk
  assert.equal(fileDownloadStats.bulk - bulkBefore, 2);
  const res = await fetch(`${proxy.url}/v2/noca/team/app/manifests/v1`);
  assert.equal(res.status, 502);
  const body = (await res.json()) as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.match(body.errors[0]!.message, /TLS error talking to 127\.0\.0\.1:\d+/);
});
