// The client verifies a manifest fetched by digest against that digest, whatever its algorithm:
// a registry (or a proxy) answering other bytes for a sha256 or sha512 reference is an error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from '../../shared/client/registry-client.js';
import { DigestMismatchError } from '../../shared/errors.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${'1'.repeat(64)}`,
      size: 2,
    },
    layers: [],
  }),
);
const other = Buffer.from(manifest.toString().replace('"size":2', '"size":3'));
const digest = (algo: string, b: Buffer) => `${algo}:${createHash(algo).update(b).digest('hex')}`;

let server: http.Server;
let host: string;
before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    // Serves `other` for everything: right only for other's own digests.
    res.writeHead(200, { 'content-type': OCI, 'content-length': String(other.length) });
    res.end(other);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

for (const algo of ['sha256', 'sha512']) {
  test(`getManifest by ${algo} digest: the right bytes pass, other bytes are refused`, async () => {
    const client = new RegistryClient({ registry: host, credentials: null });
    const ok = await client.getManifest('lib/app', digest(algo, other));
    assert.ok(ok.bytes.equals(other));
    await assert.rejects(
      client.getManifest('lib/app', digest(algo, manifest)),
      DigestMismatchError,
    );
  });
}
