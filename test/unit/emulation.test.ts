// QEMU emulation checks that need no root: names of the emulators, this machine's platform
// being native, and docker's refusal of `run --platform P` for an image of another platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkImagePlatform, emulationStatus, qemuArch } from '../../shared/emulation.js';
import { currentPlatform } from '../../shared/platform.js';

test('QEMU names of OCI architectures', () => {
  assert.equal(qemuArch({ os: 'linux', architecture: 'arm64' }), 'aarch64');
  assert.equal(qemuArch({ os: 'linux', architecture: 'amd64' }), 'x86_64');
  assert.equal(qemuArch({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'arm');
  assert.equal(qemuArch({ os: 'linux', architecture: 'mips64le' }), 'mips64el');
  assert.equal(qemuArch({ os: 'windows', architecture: 'amd64' }), undefined);
});

test('this machine platform needs no emulation; an unknown one cannot have any', async () => {
  assert.deepEqual(await emulationStatus(currentPlatform()), { ok: true, native: true });
  const none = await emulationStatus({ os: 'linux', architecture: 'wasm32' });
  assert.equal(none.ok, false);
  assert.match(
    !none.ok ? none.reason : '',
    /^running linux\/wasm32 binaries needs QEMU user emulation, and QEMU has no emulator/,
  );
});

test('tsrun --platform P of a single-platform image of another platform: docker message', () => {
  assert.throws(
    () =>
      checkImagePlatform(
        'x:1',
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ),
    /^TsdockError: image with reference x:1 was found but does not match the specified platform: wanted linux\/arm64, actual: linux\/amd64$/,
  );
  checkImagePlatform(
    'x:1',
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    { os: 'linux', architecture: 'arm64' },
  );
});
