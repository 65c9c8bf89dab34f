// Platforms: parsing and normalisation, this machine's platform, and choosing a manifest from
// a multi-arch index (variants, attestations, a helpful error listing what is there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arch } from 'node:os';
import { NotFoundError, InvalidInputError } from '../../shared/errors.js';
import type { Descriptor, ImageIndex, Platform } from '../../shared/manifest.js';
import { MediaType } from '../../shared/media-types.js';
import {
  currentPlatform,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformsEqual,
  selectManifest,
} from '../../shared/platform.js';
import type { Digest } from '../../shared/digest.js';

test('parsePlatform and formatPlatform', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), {
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
  });
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('Linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/armhf'), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v7',
  });
  assert.deepEqual(parsePlatform('linux/arm/7'), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v7',
  });
  assert.deepEqual(parsePlatform('linux/i386'), { os: 'linux', architecture: '386' });
  assert.deepEqual(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.equal(parsePlatform('linux').os, 'linux');
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }), 'linux/arm/v6');
  assert.equal(formatPlatform({ os: 'linux', architecture: 'amd64' }), 'linux/amd64');
  for (const bad of ['', 'linux/', '/amd64', 'a/b/c/d', 'linux//v7', 'linux/am d64']) {
    assert.throws(
      () => parsePlatform(bad),
      (e: unknown) => e instanceof InvalidInputError && /invalid platform/.test(e.message),
      bad,
    );
  }
});

test('normalizePlatform drops default-equivalent noise', () => {
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), {
    os: 'linux',
    architecture: 'amd64',
  });
  assert.equal(
    normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' }).variant,
    'v8',
  );
  assert.ok(
    platformsEqual({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8')),
  );
  assert.ok(platformsEqual({ os: 'linux', architecture: 'arm' }, parsePlatform('linux/arm/v7')));
  assert.ok(!platformsEqual({ os: 'linux', architecture: 'arm' }, parsePlatform('linux/arm/v6')));
  assert.ok(!platformsEqual({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/arm64')));
});

test('currentPlatform maps node arch names to OCI ones', () => {
  const p = currentPlatform();
  assert.equal(p.os, 'linux');
  const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  if (expected[arch()]) assert.equal(p.architecture, expected[arch()]);
  if (arch() === 'arm64') assert.equal(p.variant, 'v8');
  assert.ok(!['x64', 'ia32', 'aarch64'].includes(p.architecture));
});

let n = 0;
function entry(platform: Platform | undefined, annotations?: Record<string, string>): Descriptor {
  n++;
  return {
    mediaType: MediaType.OciManifest,
    digest: `sha256:${n.toString(16).padStart(64, '0')}` as Digest,
    size: 100 + n,
    ...(platform ? { platform } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

const amd64 = entry({ os: 'linux', architecture: 'amd64' });
const arm64 = entry({ os: 'linux', architecture: 'arm64', variant: 'v8' });
const armv6 = entry({ os: 'linux', architecture: 'arm', variant: 'v6' });
const armv7 = entry({ os: 'linux', architecture: 'arm', variant: 'v7' });
const windows = entry({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763' });
const attestation = entry(
  { os: 'unknown', architecture: 'unknown' },
  { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'x' },
);
const index = (manifests: Descriptor[]): ImageIndex => ({
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests,
});

test('selectManifest picks exact os/arch with normalised variants', () => {
  const all = index([attestation, windows, armv6, armv7, arm64, amd64]);
  assert.equal(selectManifest(all, { os: 'linux', architecture: 'amd64' }), amd64);
  assert.equal(selectManifest(all, { os: 'linux', architecture: 'x86_64' }), amd64);
  assert.equal(selectManifest(all, { os: 'linux', architecture: 'arm64' }), arm64);
  assert.equal(selectManifest(all, parsePlatform('linux/arm64/v8')), arm64);
  assert.equal(selectManifest(all, { os: 'linux', architecture: 'arm' }), armv7);
  assert.equal(selectManifest(all, parsePlatform('linux/arm/v6')), armv6);
  assert.equal(selectManifest(all, { os: 'windows', architecture: 'amd64' }), windows);
  // An arm64 entry without a variant serves a v8 request.
  const noVariant = entry({ os: 'linux', architecture: 'arm64' });
  assert.equal(selectManifest(index([noVariant]), parsePlatform('linux/arm64/v8')), noVariant);
});

test('selectManifest falls back to older arm variants, not newer', () => {
  assert.equal(selectManifest(index([armv6]), parsePlatform('linux/arm/v7')), armv6);
  assert.throws(() => selectManifest(index([armv7]), parsePlatform('linux/arm/v6')), NotFoundError);
});

test('selectManifest skips attestations and explains what is available', () => {
  assert.throws(
    () => selectManifest(index([attestation, amd64, arm64]), parsePlatform('linux/s390x')),
    (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.match(e.message, /no image for platform linux\/s390x/);
      assert.equal(
        e.hint,
        'available platforms: linux/amd64, linux/arm64/v8; choose one with --platform',
      );
      return true;
    },
  );
  assert.throws(
    () => selectManifest(index([attestation]), { os: 'unknown', architecture: 'unknown' }),
    NotFoundError,
  );
  assert.throws(
    () => selectManifest(index([entry(undefined)]), { os: 'linux', architecture: 'amd64' }),
    (e: unknown) => e instanceof NotFoundError && e.hint === 'the index lists no platforms',
  );
});
