// Privileged: tscommit turns a container's changes (new files, deletions as whiteouts) into an
// image in the store that tsrun runs; unpacked layers are cached and shared. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeBusyboxRootfs, tsCommand } from './runner-helpers.js';

let dir = '';
let root = '';
let rootfs = '';
const ts = (cmd: string, args: string[]) => tsCommand(root, cmd, args);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-commit-'));
  root = join(dir, 'state');
  rootfs = makeBusyboxRootfs(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('commit a --rootfs container, run the image, commit again with a deletion', () => {
  let r = ts('tsrun', [
    '--name',
    'c1',
    '--network',
    'none',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'echo v1 > /hello',
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = ts('tscommit', ['c1', 'commit-test:v1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  r = ts('tsrun', [
    '--name',
    'c2',
    '--network',
    'none',
    'commit-test:v1',
    'sh',
    '-c',
    'cat /hello; rm /bin/vi; echo two >> /hello',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'v1\n');
  assert.equal(ts('tscommit', ['-m', 'second', 'c2', 'commit-test:v2']).code, 0);
  r = ts('tsrun', [
    '--rm',
    '--network',
    'none',
    'commit-test:v2',
    'sh',
    '-c',
    'cat /hello; test -e /bin/vi || echo vi-gone',
  ]);
  assert.equal(r.stdout, 'v1\ntwo\nvi-gone\n', r.stderr);
  // the first image is unchanged by the second container
  r = ts('tsrun', [
    '--rm',
    '--network',
    'none',
    'commit-test:v1',
    'sh',
    '-c',
    'cat /hello; test -e /bin/vi && echo vi-here',
  ]);
  assert.equal(r.stdout, 'v1\nvi-here\n');
  assert.equal(readdirSync(join(root, 'layers')).filter((d) => !d.startsWith('.')).length, 3);
  // the store is a valid OCI layout for a peer tool
  const skopeo = spawnSync(
    'skopeo',
    ['inspect', '--config', `oci:${join(root, 'images')}:docker.io/library/commit-test:v2`],
    { encoding: 'utf8' },
  );
  if (skopeo.error === undefined) {
    assert.equal(skopeo.status, 0, skopeo.stderr);
    assert.equal(JSON.parse(skopeo.stdout).rootfs.diff_ids.length, 3);
  }
  assert.equal(ts('tsrm', ['c1', 'c2']).code, 0);
});
