// Unit tests: container records survive a reboot or a dead supervisor as "exited" (nothing for
// the next command to trip over), names are reserved atomically, lookups by name/prefix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bootId,
  containerDir,
  findContainer,
  listContainers,
  removeTree,
  reserveName,
  saveState,
  type ContainerState,
} from '../../runner/containers.js';
import { buildSpec } from '../../runner/spec.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tsdock-state-'));
  process.env.TSDOCK_ROOT = root;
});
after(() => rmSync(root, { recursive: true, force: true }));

function record(id: string, name: string, over: Partial<ContainerState> = {}): ContainerState {
  const st: ContainerState = {
    id,
    name,
    image: 'img',
    imageId: 'sha256:x',
    created: new Date().toISOString(),
    spec: buildSpec(
      { Cmd: ['true'] },
      { cmd: [], env: [], volumes: [], tmpfs: [], publish: [] },
      id,
    ),
    status: 'running',
    bootId: bootId(),
    autoRemove: false,
    detached: true,
    layers: [],
    ...over,
  };
  mkdirSync(containerDir(id), { recursive: true });
  reserveName(name, id);
  saveState(st);
  return st;
}

test('a record from before the last boot, or with a dead supervisor, reads as exited (255)', async () => {
  record('a'.repeat(64), 'rebooted', { bootId: 'some-earlier-boot', monitorPid: process.pid });
  record('b'.repeat(64), 'crashed', { monitorPid: 2 ** 22 + 12345 });
  record('c'.repeat(64), 'alive', { monitorPid: process.pid });
  const all = await listContainers();
  const by = Object.fromEntries(all.map((c) => [c.name, c]));
  assert.equal(by.rebooted!.status, 'exited');
  assert.equal(by.rebooted!.exitCode, 255);
  assert.equal(by.crashed!.status, 'exited');
  assert.equal(by.alive!.status, 'running');
});

test('names are unique; lookup by name, full id and unique prefix', async () => {
  assert.throws(() => reserveName('alive', 'd'.repeat(64)), /already in use/);
  assert.throws(() => reserveName('bad name', 'd'.repeat(64)), /invalid container name/);
  assert.equal((await findContainer('alive')).id, 'c'.repeat(64));
  assert.equal((await findContainer('cccc')).name, 'alive');
  assert.equal((await findContainer('b'.repeat(64))).name, 'crashed');
  await assert.rejects(findContainer('nope'), /no such container/);
  // a name whose container directory is gone is free again
  removeTree(containerDir('a'.repeat(64)));
  reserveName('rebooted', 'e'.repeat(64));
});
