// Where state and config live: env overrides, root's default, XDG dirs and their fallbacks.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import {
  buildCacheRoot,
  configDir,
  containersRoot,
  layersRoot,
  registryRoot,
  storeRoot,
  tmpRoot,
  tsdockRoot,
} from '../../shared/paths.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['TSDOCK_ROOT', 'TSDOCK_CONFIG', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

test('TSDOCK_ROOT and the directories under it', () => {
  process.env['TSDOCK_ROOT'] = '/srv/ts';
  assert.equal(tsdockRoot(), '/srv/ts');
  assert.equal(registryRoot(), '/srv/ts/registry');
  assert.equal(storeRoot(), '/srv/ts/images');
  assert.equal(containersRoot(), '/srv/ts/containers');
  assert.equal(layersRoot(), '/srv/ts/layers');
  assert.equal(buildCacheRoot(), '/srv/ts/build-cache');
  assert.equal(tmpRoot(), '/srv/ts/tmp');
  process.env['TSDOCK_ROOT'] = 'rel/dir';
  assert.equal(tsdockRoot(), `${process.cwd()}/rel/dir`);
});

test('default root: /var/lib/tsdock for root, XDG data dir otherwise', () => {
  delete process.env['TSDOCK_ROOT'];
  process.env['XDG_DATA_HOME'] = '/x/data';
  if (process.getuid?.() === 0) {
    assert.equal(tsdockRoot(), '/var/lib/tsdock');
  } else {
    assert.equal(tsdockRoot(), '/x/data/tsdock');
    process.env['XDG_DATA_HOME'] = 'relative';
    assert.equal(tsdockRoot(), `${homedir()}/.local/share/tsdock`);
  }
});

test('config dir: TSDOCK_CONFIG, else XDG_CONFIG_HOME, else ~/.config', () => {
  process.env['TSDOCK_CONFIG'] = '/etc/ts';
  assert.equal(configDir(), '/etc/ts');
  delete process.env['TSDOCK_CONFIG'];
  process.env['XDG_CONFIG_HOME'] = '/x/config';
  assert.equal(configDir(), '/x/config/tsdock');
  delete process.env['XDG_CONFIG_HOME'];
  assert.equal(configDir(), `${homedir()}/.config/tsdock`);
  process.env['XDG_CONFIG_HOME'] = 'not/absolute';
  assert.equal(configDir(), `${homedir()}/.config/tsdock`);
});
