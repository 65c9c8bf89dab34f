// The dockerd helper itself: starts a private daemon and cleans up after it (other interop tests rely on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startDockerd } from '../helpers/dockerd.js';

test(
  'a private dockerd starts, answers and leaves no mounts behind',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async () => {
    const res = await startDockerd();
    assert.ok(res.ok, res.ok ? '' : res.reason);
    const { dockerd } = res;
    try {
      const info = dockerd.docker(['info', '--format', '{{.Driver}}']);
      assert.equal(info.status, 0, info.stderr);
      assert.equal(info.stdout.trim(), 'overlay2');
    } finally {
      await dockerd.close();
    }
    const root = (dockerd.env.DOCKER_CONFIG ?? '').replace(/\/config$/, '');
    assert.ok(
      !readFileSync('/proc/self/mounts', 'utf8').includes(root),
      'dockerd mounts left behind',
    );
  },
);
