// Manifest checks side by side with the reference registry (CNCF distribution 2.8): descriptor
// sizes that do not match the stored blob, duplicate JSON member names, and reads of references
// that are neither a tag nor a digest. The reference accepts the first two (measured here and
// printed): tsregistry refuses them with MANIFEST_INVALID, since a client would fail on the size
// and GC and clients could read different layers from a document with a repeated "layers".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expectOciError,
  makeImage,
  sha256,
  startRegistry,
  type TestImage,
  type TestRegistry,
} from '../helpers/registry-server.js';
import { startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';
import { missingReason, peerUnavailable } from '../helpers/peers.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const skip = missingReason('docker-registry');
let ours: TestRegistry;
let ref: ReferenceRegistry;
const image: TestImage = makeImage([1000]);

/** Pushes a blob with POST then PUT ?digest= (the reference 2.8 ignores a monolithic POST). */
async function pushBlob(url: string, repo: string, blob: Buffer): Promise<void> {
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const location = new URL(start.headers.get('location')!, url);
  location.searchParams.set('digest', sha256(blob));
  const res = await fetch(location, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob,
  });
  assert.equal(res.status, 201, await res.text());
}

function put(url: string, reference: string, body: string | Buffer, type = OCI) {
  return fetch(`${url}/v2/checks/app/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': type },
    body,
  });
}

before(async () => {
  if (skip) return;
  [ours, ref] = await Promise.all([startRegistry(), startReferenceRegistry()]);
  for (const url of [ours.url, ref.url])
    for (const blob of [image.config, ...image.layers]) await pushBlob(url, 'checks/app', blob);
});
after(async () => {
  await ours?.close();
  await ref?.close();
});

/** Refused by tsregistry with MANIFEST_INVALID and nothing stored; the reference's answer noted. */
async function refused(
  t: { diagnostic(m: string): void },
  what: string,
  body: string,
  type = OCI,
): Promise<void> {
  const theirs = await put(ref.url, 'bad', body, type);
  t.diagnostic(`${what}: reference registry answers ${theirs.status} ${await theirs.text()}`);
  await expectOciError(await put(ours.url, 'bad', body, type), 'MANIFEST_INVALID', 400);
  const stored = await fetch(`${ours.url}/v2/checks/app/manifests/${sha256(body)}`);
  await stored.arrayBuffer();
  assert.equal(stored.status, 404, `${what}: nothing stored`);
}

test('a descriptor size that does not match the stored blob is refused', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const doc = JSON.parse(image.manifest.toString()) as {
    config: { size: number };
    layers: Array<{ size: number }>;
  };
  doc.layers[0]!.size -= 1;
  await refused(t, 'layer size - 1', JSON.stringify(doc));
  doc.layers[0]!.size += 1;
  doc.config.size += 7;
  await refused(t, 'config size + 7', JSON.stringify(doc));
  // The right sizes are accepted by both; an index child with a wrong size is refused.
  for (const url of [ours.url, ref.url])
    assert.equal((await put(url, 'v1', image.manifest)).status, 201);
  const index = (size: number) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ mediaType: OCI, digest: image.digest, size }],
    });
  await refused(t, 'index child size + 1', index(image.manifest.length + 1), INDEX);
  assert.equal((await put(ours.url, 'multi', index(image.manifest.length), INDEX)).status, 201);
});

test('duplicate member names in manifests and indexes are refused', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  const text = image.manifest.toString();
  await refused(t, 'layers twice', text.replace('"layers":', '"layers":[],"layers":'));
  await refused(
    t,
    'nested digest twice',
    text.replace('"digest":', '"digest":"sha256:0","digest":'),
  );
  const index = `{"schemaVersion":2,"mediaType":"${INDEX}","manifests":[{"mediaType":"${OCI}","digest":"${image.digest}","size":${image.manifest.length},"annotations":{"a":"1","a":"2"}}]}`;
  await refused(t, 'index annotation twice', index, INDEX);
});

test('reading a reference that is neither a tag nor a digest is 404, as the reference answers', async (t) => {
  if (skip) return peerUnavailable(t, skip);
  for (const reference of ['.dot', '-dash', 'a'.repeat(129)])
    for (const method of ['GET', 'HEAD']) {
      const theirs = await fetch(`${ref.url}/v2/checks/app/manifests/${reference}`, { method });
      await theirs.arrayBuffer();
      assert.equal(theirs.status, 404, `reference registry: ${method} ${reference}`);
      const res = await fetch(`${ours.url}/v2/checks/app/manifests/${reference}`, { method });
      if (method === 'GET') await expectOciError(res, 'MANIFEST_UNKNOWN', 404);
      else assert.equal(res.status, 404);
    }
  // Pushing under an invalid tag still says what is wrong.
  await expectOciError(await put(ours.url, '.dot', image.manifest), 'TAG_INVALID', 400);
});
