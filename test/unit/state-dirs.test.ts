// State root permissions: a fresh root is made 0711 with 0700 tree directories, an older 0755
// one is tightened, and a shared sticky directory given as the root (TSDOCK_ROOT=/tmp-like) is
// not chmodded while the private directories below it still are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { securePrivateDir, secureStateDirs } from '../../shared/state-dirs.js';

const mode = (p: string) => statSync(p).mode & 0o7777;

test('fresh and older roots end up 0711 with 0700 tree directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-statedirs-'));
  try {
    secureStateDirs(join(dir, 'fresh'));
    assert.equal(mode(join(dir, 'fresh')), 0o711);
    for (const d of ['containers', 'layers', 'volumes', 'tmp', 'build-cache']) {
      assert.equal(mode(join(dir, 'fresh', d)), 0o700, d);
    }
    const old = join(dir, 'old');
    mkdirSync(join(old, 'layers'), { recursive: true });
    chmodSync(old, 0o755);
    chmodSync(join(old, 'layers'), 0o755);
    secureStateDirs(old);
    assert.equal(mode(old), 0o711);
    assert.equal(mode(join(old, 'layers')), 0o700);
    securePrivateDir(join(dir, 'run'));
    assert.equal(mode(join(dir, 'run')), 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sticky shared directory as the root is left alone; what is below it is private', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-statedirs-'));
  try {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    secureStateDirs(shared);
    assert.equal(mode(shared), 0o1777);
    assert.equal(mode(join(shared, 'containers')), 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
