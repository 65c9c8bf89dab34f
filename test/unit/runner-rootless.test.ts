// Unit tests for rootless mode's pure parts: /etc/subuid parsing into namespace mappings, the
// helper's --userns option, and the warning for limits a rootless run cannot enforce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hostId,
  insideId,
  mapArgs,
  namespaceMap,
  subordinateRanges,
} from '../../runner/rootless/id-maps.js';
import { unenforcedLimitsWarning } from '../../runner/rootless/cgroups.js';
import { sandboxArgs, sandboxExecArgs } from '../../runner/sandbox.js';
import { rootlessOverlayDriver } from '../../runner/rootless/overlay-driver.js';

const SUBUID = [
  'alice:100000:65536',
  '# comment',
  'bob:165536:65536',
  '1002:231072:1000',
  'alice:300000:10',
  'broken line',
  'carol:400000:0',
].join('\n');

test('subordinateRanges: the lines of a user, by name or uid, numbered from 1 in order', () => {
  assert.deepEqual(subordinateRanges(SUBUID, 'alice', 1001), [
    { inside: 1, outside: 100000, count: 65536 },
    { inside: 65537, outside: 300000, count: 10 },
  ]);
  assert.deepEqual(subordinateRanges(SUBUID, 'dave', 1002), [
    { inside: 1, outside: 231072, count: 1000 },
  ]);
  assert.deepEqual(subordinateRanges(SUBUID, 'carol', 1003), []);
  assert.deepEqual(subordinateRanges('', 'alice', 1001), []);
});

test('namespaceMap: the user as root, then its ranges; mapArgs and hostId follow it', () => {
  const map = namespaceMap(1001, subordinateRanges(SUBUID, 'alice', 1001));
  assert.deepEqual(mapArgs(map), [
    '0',
    '1001',
    '1',
    '1',
    '100000',
    '65536',
    '65537',
    '300000',
    '10',
  ]);
  assert.equal(hostId(map, 0), 1001);
  assert.equal(hostId(map, 1000), 100999);
  assert.equal(hostId(map, 65537), 300000);
  assert.equal(hostId(map, 65547), undefined);
  assert.equal(hostId(namespaceMap(1001, []), 1), undefined);
});

test('insideId: host ids as the namespace sees them (the overflow id when unmapped)', () => {
  const map = namespaceMap(1001, subordinateRanges(SUBUID, 'alice', 1001));
  assert.equal(insideId(map, 1001), 0);
  assert.equal(insideId(map, 100999), 1000);
  assert.equal(insideId(map, 300009), 65546);
  assert.equal(insideId(map, 0), 65534);
  assert.equal(insideId(map, 300010), 65534);
});

test('sandbox argv: --userns comes first for run and exec, and only when asked', () => {
  const run = sandboxArgs({ rootfs: '/r', argv: ['true'], env: [], cwd: '/', network: 'new' });
  assert.ok(!run.includes('--userns'));
  const rootless = sandboxArgs({
    rootfs: '/r',
    argv: ['true'],
    env: [],
    cwd: '/',
    network: 'new',
    userns: '/proc/42/ns/user',
  });
  assert.deepEqual(rootless.slice(0, 5), ['run', '--rootfs', '/r', '--userns', '/proc/42/ns/user']);
  const exec = sandboxExecArgs({
    target: 7,
    argv: ['sh'],
    env: [],
    cwd: '/',
    userns: '/proc/42/ns/user',
  });
  assert.deepEqual(exec.slice(exec.indexOf('--userns'), exec.indexOf('--userns') + 2), [
    '--userns',
    '/proc/42/ns/user',
  ]);
});

test('unenforcedLimitsWarning: one line naming the flags, nothing without limits', () => {
  assert.equal(unenforcedLimitsWarning({}, 'tsrun'), '');
  const w = unenforcedLimitsWarning({ memory: 1 << 20, cpuQuota: 50000, pids: 10 }, 'tsrun');
  assert.match(w, /^tsrun: warning: --memory, --cpus\/--cpu-quota, --pids-limit ignored: /);
  assert.equal(w.split('\n').length, 2);
  assert.ok(w.endsWith('\n'));
});

test('rootlessOverlayDriver: fuse-overlayfs before Linux 5.11 or when forced; bad values refused', () => {
  assert.equal(rootlessOverlayDriver(undefined, '5.10.0-28-amd64'), 'fuse-overlayfs');
  assert.equal(rootlessOverlayDriver(undefined, '4.19.0'), 'fuse-overlayfs');
  assert.equal(rootlessOverlayDriver(undefined, '5.11.0'), 'kernel');
  assert.equal(rootlessOverlayDriver(undefined, '6.18.44-fc'), 'kernel');
  assert.equal(rootlessOverlayDriver('fuse-overlayfs', '6.1.0'), 'fuse-overlayfs');
  assert.equal(rootlessOverlayDriver('kernel', '5.4.0'), 'kernel');
  assert.throws(() => rootlessOverlayDriver('fuse', '6.1.0'), /TSDOCK_ROOTLESS_OVERLAY=fuse/);
  const overlay = { base: '/l', lowers: ['a', 'b'], upper: '/u', work: '/w' };
  const req = { rootfs: '/r', argv: ['true'], env: [], cwd: '/', network: 'new', overlay };
  assert.ok(sandboxArgs({ ...req, fuseOverlay: true }).includes('--fuse-overlay'));
  assert.ok(!sandboxArgs({ ...req, fuseOverlay: false }).includes('--fuse-overlay'));
});
