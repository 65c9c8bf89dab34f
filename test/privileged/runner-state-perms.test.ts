// Privileged: what containers and layers make (a setuid-root binary, device nodes) is not
// reachable by other host users. The state root is 0711 and containers/, layers/ and the
// runtime root are 0700, also when an older tsdock made them 0755 (tightened on start-up).
// Checked as an unprivileged user (setpriv --reuid=65534, no groups) next to a positive
// control that the same user reaches a world-traversable path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeBusyboxRootfs, tsCommand } from './runner-helpers.js';

let dir = '';
let root = '';
let runtime = '';
let rootfs = '';
const env = () => ({ TSDOCK_RUNTIME: runtime });
const ts = (cmd: string, args: string[]) => tsCommand(root, cmd, args, { env: env() });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-perms-'));
  chmodSync(dir, 0o755); // the state root's parent is open to everyone
  root = join(dir, 'state');
  runtime = join(dir, 'run');
  rootfs = makeBusyboxRootfs(dir);
  // a state root as an older tsdock left it: everything 0755
  for (const d of [root, join(root, 'containers'), join(root, 'layers'), runtime]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
});
after(() => {
  ts('tsrm', ['-f', 'maker']);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs busybox as uid/gid 65534 with no supplementary groups; exit code and stderr. */
function asNobody(...args: string[]): { code: number; err: string } {
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/busybox', ...args],
    { encoding: 'utf8' },
  );
  return { code: r.status ?? 128, err: r.stderr };
}

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);

test('setuid files and device nodes of containers and layers are out of other users’ reach', () => {
  const make = [
    'cp /bin/busybox /suid && chmod 4755 /suid',
    'mknod /blk b 7 0 && mknod /chr c 1 3 && chmod 666 /blk /chr',
  ].join(' && ');
  let r = ts('tsrun', [
    '--name',
    'maker',
    '--network',
    'none',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    make,
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = ts('tscommit', ['maker', 'perms:v1']);
  assert.equal(r.code, 0, r.stderr);
  r = ts('tsrun', ['--rm', '--network', 'none', 'perms:v1', 'true']); // unpacks its layers
  assert.equal(r.code, 0, r.stderr);

  const id = readdirSync(join(root, 'containers')).find((n) => !n.startsWith('.'))!;
  const upper = join(root, 'containers', id, 'upper');
  const layers = readdirSync(join(root, 'layers'))
    .map((l) => join(root, 'layers', l))
    .filter((l) => existsSync(join(l, 'suid')));
  assert.equal(layers.length, 1, 'the committed layer is unpacked');
  const made = [
    ...['suid', 'blk', 'chr'].map((f) => join(upper, f)),
    ...layers.flatMap((l) => ['suid', 'blk'].map((f) => join(l, f))),
  ];
  // root sees them: they exist
  for (const p of made) statSync(p);
  // the control: nobody reaches a world-traversable file beside them
  assert.equal(asNobody('stat', join(rootfs, 'bin/busybox')).code, 0);
  for (const p of made) {
    const res = asNobody('stat', p);
    assert.notEqual(res.code, 0, `${p} is reachable by uid 65534`);
    assert.match(res.err, /Permission denied/);
  }
  assert.notEqual(asNobody('ls', join(root, 'containers')).code, 0);
  assert.notEqual(
    asNobody('cat', join(root, 'layers', '..', 'containers', id, 'state.json')).code,
    0,
  );
  assert.equal(mode(root), '711');
  assert.equal(mode(join(root, 'containers')), '700');
  assert.equal(mode(join(root, 'layers')), '700');
  assert.equal(mode(runtime), '700');
});
