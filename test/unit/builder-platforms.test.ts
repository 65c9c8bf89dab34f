// The platforms of a build: --platform lists, BuildKit's normalised names and automatic ARGs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../shared/errors.js';
import { platformArgs, targetPlatforms } from '../../builder/plan/platforms.js';

test('--platform lists: normalised, duplicates dropped, order kept', () => {
  assert.deepEqual(targetPlatforms('linux/amd64,linux/arm64/v8,linux/aarch64,linux/arm/7'), [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
  ]);
  assert.equal(targetPlatforms(undefined).length, 1);
  assert.throws(() => targetPlatforms('linux/amd64,'), InvalidInputError);
  assert.throws(() => targetPlatforms('linux//arm64'), InvalidInputError);
});

test('automatic ARGs: TARGET* of the target, BUILD* of the host', () => {
  const args = platformArgs(
    { os: 'linux', architecture: 'arm', variant: 'v7' },
    { os: 'linux', architecture: 'amd64' },
  );
  assert.deepEqual(Object.fromEntries(args), {
    BUILDPLATFORM: 'linux/amd64',
    BUILDOS: 'linux',
    BUILDARCH: 'amd64',
    BUILDVARIANT: '',
    TARGETPLATFORM: 'linux/arm/v7',
    TARGETOS: 'linux',
    TARGETARCH: 'arm',
    TARGETVARIANT: 'v7',
  });
});
