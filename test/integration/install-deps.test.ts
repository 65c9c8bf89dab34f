// scripts/install-deps.sh demo|test on a machine where nothing is installed yet (PATH holds
// only the shell tools the script uses, and stand-ins for id, apt-get and npm that record what
// they are asked): `demo` installs only what the demo uses, `test` the peer tools as well.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function packagesInstalled(set: string): { code: number | null; packages: string[]; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-deps-'));
  try {
    const bin = join(dir, 'bin');
    const log = join(dir, 'log');
    mkdirSync(bin);
    for (const tool of ['bash', 'dirname', 'sort', 'tr']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
      symlinkSync(found.stdout.trim(), join(bin, tool));
    }
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!${join(bin, 'bash')}\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    stub('id', 'echo 0');
    stub('apt-get', `echo "apt-get $*" >> ${log}`);
    stub('npm', `echo "npm $*" >> ${log}`);
    const r = spawnSync(join(bin, 'bash'), [join(ROOT, 'scripts', 'install-deps.sh'), set], {
      encoding: 'utf8',
      env: { PATH: bin },
    });
    const lines = r.status === 0 ? readFileSync(log, 'utf8').split('\n') : [];
    const install = lines.find((l) => l.startsWith('apt-get install')) ?? '';
    const packages = install.split(' ').filter((w) => w !== '' && !w.startsWith('-'));
    return { code: r.status, packages: packages.slice(2).sort(), out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('install-deps.sh demo installs only what the demo uses; test adds the peers', () => {
  const demo = packagesInstalled('demo');
  assert.equal(demo.code, 0, demo.out);
  assert.deepEqual(demo.packages, ['busybox-static', 'gcc', 'iproute2', 'iptables', 'umoci']);
  const all = packagesInstalled('test');
  assert.equal(all.code, 0, all.out);
  for (const p of [...demo.packages, 'docker.io', 'podman', 'buildah', 'skopeo', 'zsh'])
    assert.ok(all.packages.includes(p), p);
  const bad = packagesInstalled('everything');
  assert.equal(bad.code, 125);
  assert.match(bad.out, /usage: install-deps\.sh \[demo\|test\]/);
});
