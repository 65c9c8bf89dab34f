// Privileged: running a real image from the store (the offline busybox fixture built with umoci):
// layers unpacked once into the shared cache, image Cmd/Env/WorkingDir honoured, -i stdin, and
// the fast path for cached tags giving the same result as the full store path. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsCommand } from './runner-helpers.js';
import { importBusybox } from '../helpers/busybox-image.js';
import { ContentStore } from '../../shared/store/content-store.js';
import { pushImage } from '../../shared/client/transfer.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { requirePeer } from '../helpers/peers.js';

let dir = '';
let root = '';
const ts = (args: string[], input?: string) => tsCommand(root, 'tsrun', args, { input });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-img-'));
  root = join(dir, 'state');
  await importBusybox(await ContentStore.open(join(root, 'images')), 'busybox:latest');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('an image from the store runs its Cmd; its layers are unpacked once and shared', () => {
  const first = ts(
    ['--rm', '-i', '--network', 'none', 'busybox'],
    'echo from-stdin $PATH; cat /etc/hostname\n',
  );
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^from-stdin \/usr\/local\/sbin:/);
  const layers = readdirSync(join(root, 'layers')).filter((d) => !d.startsWith('.'));
  assert.equal(layers.length, 1);
  const second = ts([
    '--rm',
    '--network',
    'none',
    '-u',
    'nobody',
    '-w',
    '/tmp/work',
    'busybox',
    'sh',
    '-c',
    'id -un; pwd; ls /',
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^nobody\n\/tmp\/work\n/);
  assert.deepEqual(
    readdirSync(join(root, 'layers')).filter((d) => !d.startsWith('.')),
    layers,
  );
  const byId = ts(['--rm', '--network', 'none', 'docker.io/library/busybox:latest', 'true']);
  assert.equal(byId.code, 0, byId.stderr);
  const missing = ts(['--rm', '--network', 'none', '127.0.0.1:1/nope:latest', 'true']);
  assert.equal(missing.code, 125);
});

test('a missing image is pulled from a registry (the reference registry) and run', async (t) => {
  if (!requirePeer(t, 'docker-registry')) return;
  const reg = await startReferenceRegistry();
  try {
    const seed = await ContentStore.open(join(dir, 'seed-registry'));
    await importBusybox(seed, 'busybox:latest');
    await pushImage(seed, 'busybox:latest', { target: `${reg.host}/team/bb:1` });
    const fresh = join(dir, 'fresh');
    const r = tsCommand(fresh, 'tsrun', [
      '--rm',
      '--network',
      'none',
      `${reg.host}/team/bb:1`,
      'sh',
      '-c',
      'echo pulled-and-ran',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'pulled-and-ran\n');
    assert.match(r.stderr, /Unable to find image/);
    const again = tsCommand(fresh, 'tsrun', [
      '--rm',
      '--network',
      'none',
      `${reg.host}/team/bb:1`,
      'true',
    ]);
    assert.doesNotMatch(again.stderr, /Unable to find image/, 'the second run uses the local copy');
  } finally {
    await reg.close();
  }
});
