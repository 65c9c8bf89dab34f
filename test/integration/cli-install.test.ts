// Installing the commands: `make install` links every command into PREFIX/bin (DESTDIR
// honoured) where they run by name from PATH, `make uninstall` removes exactly those links; the
// `npm pack` tarball holds the built, executable commands and native helpers and installs with
// `npm i -g --prefix`, after which the commands run by name too.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const COMMANDS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> })
    .bin,
);

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  return { code: r.status, out: `${String(r.stdout)}${String(r.stderr)}` };
}

/** PATH with only BIN and node's own directory: the commands must be found by name there. */
function pathWith(bin: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` };
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-install-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('make install links every command into PREFIX/bin; make uninstall removes exactly them', () => {
  withTempDir((dir) => {
    const prefix = join(dir, 'x');
    const bin = join(prefix, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'other-tool'), 'not ours');
    let r = sh('make', ['-s', '-C', ROOT, 'install', `PREFIX=${prefix}`]);
    assert.equal(r.code, 0, r.out);
    for (const c of COMMANDS) {
      assert.ok(lstatSync(join(bin, c)).isSymbolicLink(), c);
      assert.equal(readlinkSync(join(bin, c)), join(ROOT, 'dist', 'bin', `${c}.js`));
    }
    r = sh('tsimages', ['--help'], { env: pathWith(bin) });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^Usage: tsimages \[OPTIONS\]/);
    r = sh('make', ['-s', '-C', ROOT, 'uninstall', `PREFIX=${prefix}`]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(bin), ['other-tool']);

    // DESTDIR: staged under it, PREFIX as the installed path
    const dest = join(dir, 'stage');
    r = sh('make', ['-s', '-C', ROOT, 'install', `DESTDIR=${dest}`, 'PREFIX=/opt/tsdock']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(join(dest, 'opt/tsdock/bin')).sort(), [...COMMANDS].sort());
    r = sh('make', ['-s', '-C', ROOT, 'uninstall', `DESTDIR=${dest}`, 'PREFIX=/opt/tsdock']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(join(dest, 'opt/tsdock/bin')), []);
  });
});

test('npm pack: the tarball holds executable commands and helpers, and installs with npm i -g', (t) => {
  withTempDir((dir) => {
    // the tree is built (the tests run from dist/): no prepack build here
    let r = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--loglevel=warn'], {
      cwd: ROOT,
    });
    assert.equal(r.code, 0, r.out);
    const tarball = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tgz'))!,
    );
    const listing = sh('tar', ['tvzf', tarball]);
    assert.equal(listing.code, 0, listing.out);
    const modes = new Map(
      listing.out
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/))
        .map((f) => [f.at(-1)!, f[0]!] as const),
    );
    for (const c of COMMANDS) assert.equal(modes.get(`package/dist/bin/${c}.js`), '-rwxr-xr-x', c);
    for (const helper of readdirSync(join(ROOT, 'dist', 'native')))
      assert.equal(modes.get(`package/dist/native/${helper}`), '-rwxr-xr-x', helper);
    assert.ok(modes.has('package/dist/runner/monitor-main.js'));
    assert.ok(![...modes.keys()].some((f) => f.startsWith('package/dist/test/')), 'no tests');

    // dependencies from npm's cache; from the npm registry when the cache lacks them
    const prefix = join(dir, 'y');
    const install = (mode: string) =>
      sh('npm', [
        'i',
        '-g',
        '--prefix',
        prefix,
        tarball,
        mode,
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ]);
    r = install('--offline');
    if (r.code !== 0 && /ENOTCACHED/.test(r.out)) r = install('--prefer-offline');
    if (r.code !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(r.out)) {
      if (process.env.CI === 'true') assert.fail(`npm registry unreachable: ${r.out}`);
      return t.skip('npm registry unreachable and dependencies not in the cache');
    }
    assert.equal(r.code, 0, r.out);
    assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'tsdock', 'dist', 'native')));
    r = sh('tsbuild', ['--help'], { env: pathWith(join(prefix, 'bin')) });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^Usage: tsbuild \[OPTIONS\] PATH \| -\n/);
  });
});
