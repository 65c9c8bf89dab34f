// Manifest edge cases against a real tsregistry: the 4 MiB size limit from both sides (with a
// Content-Length and streamed chunked), OCI-Subject for a subject that is not in the repository,
// Accept handling (the spec: an existing manifest is served, typed by Content-Type), and a Docker
// schema2 manifest list stored and served byte-exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { MANIFEST_SIZE_LIMIT } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import { RegistryClient } from '../../shared/client/registry-client.js';
import {
  expectOciError,
  makeImage,
  pushBlob,
  pushImage,
  sha256,
  startRegistry,
  type TestImage,
  type TestRegistry,
} from '../helpers/registry-server.js';

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.close();
});

/** An OCI manifest over `img`'s blobs padded with an annotation to exactly `size` bytes. */
function paddedManifest(img: TestImage, size: number): Buffer {
  const doc = JSON.parse(img.manifest.toString()) as Record<string, unknown>;
  doc.annotations = { 'org.example.padding': '' };
  const base = Buffer.byteLength(JSON.stringify(doc));
  assert.ok(size >= base, `cannot pad to ${size}`);
  doc.annotations = { 'org.example.padding': 'x'.repeat(size - base) };
  const bytes = Buffer.from(JSON.stringify(doc));
  assert.equal(bytes.length, size);
  return bytes;
}

/** PUT over plain node:http, so the test controls Content-Length vs chunked and sees the reply. */
function rawPut(
  path: string,
  body: Buffer,
  opts: { chunked?: boolean; contentType?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'Content-Type': opts.contentType ?? MediaType.OciManifest,
    };
    if (!opts.chunked) headers['Content-Length'] = String(body.length);
    const req = http.request(`${reg.url}${path}`, { method: 'PUT', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    // The server may answer 413 and close before the whole body is sent: that is fine.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (opts.chunked) {
      for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
      req.end();
    } else req.end(body);
  });
}

function ociError(r: { status: number; text: string }, code: string, status: number): void {
  assert.equal(r.status, status, r.text.slice(0, 300));
  const body = JSON.parse(r.text) as { errors: Array<{ code: string; message: string }> };
  assert.equal(body.errors[0]?.code, code, r.text.slice(0, 300));
  assert.equal(typeof body.errors[0]?.message, 'string');
}

describe('manifest size limit', () => {
  const repo = 'limits/size';
  let img: TestImage;
  before(async () => {
    img = makeImage([64]);
    for (const b of [img.config, ...img.layers]) await pushBlob(reg.url, repo, b);
  });

  test('the limit is at least 4 MiB', () => {
    assert.ok(MANIFEST_SIZE_LIMIT >= 4 * 1024 * 1024);
  });

  for (const chunked of [false, true]) {
    const how = chunked ? 'chunked' : 'with Content-Length';
    test(`just under and exactly at the limit are stored byte-exact (${how})`, async () => {
      for (const size of [4 * 1024 * 1024 - 1, MANIFEST_SIZE_LIMIT]) {
        const bytes = paddedManifest(img, size);
        const tag = `s${size}${chunked ? 'c' : ''}`;
        const put = await rawPut(`/v2/${repo}/manifests/${tag}`, bytes, { chunked });
        assert.equal(put.status, 201, put.text.slice(0, 300));
        assert.equal(put.headers['docker-content-digest'], sha256(bytes));
        const get = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
          headers: { Accept: MediaType.OciManifest },
        });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get('content-length'), String(size));
        assert.ok(Buffer.from(await get.arrayBuffer()).equals(bytes), 'byte-exact');
      }
    });

    test(`one byte over the limit: 413 with an OCI error, nothing stored (${how})`, async () => {
      const bytes = paddedManifest(img, MANIFEST_SIZE_LIMIT + 1);
      const tag = `over${chunked ? 'c' : ''}`;
      const put = await rawPut(`/v2/${repo}/manifests/${tag}`, bytes, { chunked });
      ociError(put, 'SIZE_INVALID', 413);
      await expectOciError(
        await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`),
        'MANIFEST_UNKNOWN',
        404,
      );
      await expectOciError(
        await fetch(`${reg.url}/v2/${repo}/manifests/${sha256(bytes)}`),
        'MANIFEST_UNKNOWN',
        404,
      );
      // The registry still serves this connection's peers afterwards.
      assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
    });
  }

  test('the registry client pulls a manifest at the limit', async () => {
    const client = new RegistryClient({ registry: reg.host, credentials: null });
    const m = await client.getManifest(repo, `s${MANIFEST_SIZE_LIMIT}`);
    assert.equal(m.bytes.length, MANIFEST_SIZE_LIMIT);
    assert.equal(m.mediaType, MediaType.OciManifest);
  });
});

describe('OCI-Subject', () => {
  const repo = 'limits/subject';

  test('a manifest whose subject is not in the repository: accepted, OCI-Subject set', async () => {
    const missing = sha256('a subject nobody pushed');
    const subject = { mediaType: MediaType.OciManifest, digest: missing, size: 1234 };
    const ref = makeImage([33], { artifactType: 'application/vnd.example.sig', subject });
    for (const b of [ref.config, ...ref.layers]) await pushBlob(reg.url, repo, b);
    for (const reference of [ref.digest, 'by-tag']) {
      const put = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
        method: 'PUT',
        headers: { 'Content-Type': MediaType.OciManifest },
        body: ref.manifest,
      });
      assert.equal(put.status, 201, await put.text());
      assert.equal(put.headers.get('oci-subject'), missing, `PUT ${reference}`);
      assert.equal(put.headers.get('docker-content-digest'), ref.digest);
    }
    // The subject still does not exist; the referrer is listed for it.
    await expectOciError(
      await fetch(`${reg.url}/v2/${repo}/manifests/${missing}`),
      'MANIFEST_UNKNOWN',
      404,
    );
    const refs = await fetch(`${reg.url}/v2/${repo}/referrers/${missing}`);
    assert.equal(refs.status, 200);
    const idx = (await refs.json()) as {
      manifests: Array<{ digest: string; artifactType?: string }>;
    };
    assert.deepEqual(
      idx.manifests.map((m) => [m.digest, m.artifactType]),
      [[ref.digest, 'application/vnd.example.sig']],
    );
  });

  test('an index with a missing subject gets OCI-Subject too; no subject, no header', async () => {
    const child = makeImage([34]);
    await pushImage(reg.url, repo, 'child', child);
    const missing = sha256('another missing subject');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [
          { mediaType: MediaType.OciManifest, digest: child.digest, size: child.manifest.length },
        ],
        subject: { mediaType: MediaType.OciManifest, digest: missing, size: 10 },
      }),
    );
    const put = await fetch(`${reg.url}/v2/${repo}/manifests/${sha256(index)}`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.OciIndex },
      body: index,
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('oci-subject'), missing);
    const plain = makeImage([35]);
    for (const b of [plain.config, ...plain.layers]) await pushBlob(reg.url, repo, b);
    const put2 = await fetch(`${reg.url}/v2/${repo}/manifests/plain`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.OciManifest },
      body: plain.manifest,
    });
    assert.equal(put2.status, 201);
    assert.equal(put2.headers.get('oci-subject'), null);
  });
});

describe('Accept negotiation and Docker manifest lists', () => {
  const repo = 'limits/types';
  let oci: TestImage;
  let dockerManifest: Buffer;
  let list: Buffer;

  before(async () => {
    oci = makeImage([40]);
    await pushImage(reg.url, repo, 'oci', oci);
    dockerManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: {
          mediaType: MediaType.DockerConfig,
          digest: sha256(oci.config),
          size: oci.config.length,
        },
        layers: [
          {
            mediaType: MediaType.DockerLayerGzip,
            digest: sha256(oci.layers[0]!),
            size: oci.layers[0]!.length,
          },
        ],
      }),
    );
    const put = await fetch(`${reg.url}/v2/${repo}/manifests/docker`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.DockerManifest },
      body: dockerManifest,
    });
    assert.equal(put.status, 201, await put.text());
    // Pretty-printed with unusual spacing: only a byte-exact store gives the same digest back.
    list = Buffer.from(
      `${JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: MediaType.DockerManifestList,
          manifests: [
            {
              mediaType: MediaType.DockerManifest,
              digest: sha256(dockerManifest),
              size: dockerManifest.length,
              platform: { architecture: 'amd64', os: 'linux' },
            },
            {
              mediaType: MediaType.OciManifest,
              digest: oci.digest,
              size: oci.manifest.length,
              platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
            },
          ],
        },
        null,
        3,
      )}\n`,
    );
  });

  test('a Docker schema2 manifest list: pushed, fetched byte-exact with its Content-Type', async () => {
    const put = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.DockerManifestList },
      body: list,
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('docker-content-digest'), sha256(list));
    for (const ref of ['multi', sha256(list)]) {
      for (const method of ['GET', 'HEAD']) {
        // Twice: the second answer comes from the in-memory fast path.
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
            method,
            headers: { Accept: `${MediaType.DockerManifestList}, ${MediaType.DockerManifest}` },
          });
          assert.equal(res.status, 200, `${method} ${ref}`);
          assert.equal(res.headers.get('content-type'), MediaType.DockerManifestList);
          assert.equal(res.headers.get('docker-content-digest'), sha256(list));
          assert.equal(res.headers.get('content-length'), String(list.length));
          const body = Buffer.from(await res.arrayBuffer());
          if (method === 'GET') assert.ok(body.equals(list), 'byte-exact');
        }
      }
    }
    const client = new RegistryClient({ registry: reg.host, credentials: null });
    const fetched = await client.getManifest(repo, 'multi');
    assert.equal(fetched.mediaType, MediaType.DockerManifestList);
    assert.ok(fetched.bytes.equals(list));
    // A list whose child is missing is refused.
    const bad = list.toString().replace(oci.digest, sha256('no such child'));
    await expectOciError(
      await fetch(`${reg.url}/v2/${repo}/manifests/bad`, {
        method: 'PUT',
        headers: { 'Content-Type': MediaType.DockerManifestList },
        body: bad,
      }),
      'MANIFEST_BLOB_UNKNOWN',
      400,
    );
  });

  // The spec: "A GET request to an existing manifest URL MUST provide the expected manifest, with
  // a response code that MUST be 200 OK" and 404 only "if the manifest is not found". tsregistry
  // converts nothing (no schema1), so whatever the Accept header says, the stored manifest is
  // served and Content-Type says what it is; the client decides whether it can use it.
  const cases: Array<{ ref: () => string; type: string; accept: string }> = [
    { ref: () => 'oci', type: MediaType.OciManifest, accept: MediaType.DockerManifest },
    {
      ref: () => oci.digest,
      type: MediaType.OciManifest,
      accept: `${MediaType.DockerManifest}, ${MediaType.DockerManifestList}`,
    },
    { ref: () => 'docker', type: MediaType.DockerManifest, accept: MediaType.OciManifest },
    { ref: () => 'multi', type: MediaType.DockerManifestList, accept: MediaType.OciIndex },
    { ref: () => 'oci', type: MediaType.OciManifest, accept: 'application/json' },
    { ref: () => 'oci', type: MediaType.OciManifest, accept: '*/*' },
    { ref: () => 'oci', type: MediaType.OciManifest, accept: '' },
  ];
  for (const c of cases) {
    test(`Accept "${c.accept}" for a ${c.type}: served as stored`, async () => {
      for (let i = 0; i < 2; i++) {
        for (const method of ['GET', 'HEAD']) {
          const headers: Record<string, string> = c.accept ? { Accept: c.accept } : {};
          const res = await fetch(`${reg.url}/v2/${repo}/manifests/${c.ref()}`, {
            method,
            headers,
          });
          const body = Buffer.from(await res.arrayBuffer());
          assert.equal(res.status, 200, `${method}: ${body.toString().slice(0, 200)}`);
          assert.equal(res.headers.get('content-type'), c.type);
          if (method === 'GET')
            assert.equal(sha256(body), res.headers.get('docker-content-digest'));
        }
      }
    });
  }
});
