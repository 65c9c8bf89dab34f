// Privileged: `-v SRC:DST:ro` is read-only all the way down (submounts too, as docker 25+ and
// runc), `rro` likewise and never weakened, `ro-non-recursive` only at the top; without
// mount_setattr (Linux < 5.12, imitated with a seccomp filter making it fail ENOSYS) `ro` on a
// source with submounts is refused. Writes only go to targets the test makes itself (a tmpfs
// under a temp dir); host files such as sysctls are only probed with access(W_OK), which a
// read-only mount answers with EROFS, so nothing on the host changes even if a check fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runnerFixture, tsBin } from './runner-helpers.js';
import { compileStatic, ENOSYS_C, WRITABLE_C } from './native-probes.js';

const fx = runnerFixture('tsdock-rovol-', (f) => {
  compileStatic(WRITABLE_C, join(f.rootfs, 'bin/writable'));
  compileStatic(ENOSYS_C, join(f.dir, 'enosys'));
});

/** A temp dir with a tmpfs mounted under it (a submount); removed by the caller's cleanup. */
function dirWithSubmount(name: string): { top: string; sub: string; done(): void } {
  const top = join(fx.dir, name);
  const sub = join(top, 'sub');
  mkdirSync(sub, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsdock-rovol', sub]);
  return { top, sub, done: () => execFileSync('umount', [sub]) };
}

const tryWrites =
  'for f in /t/file /t/sub/file; do (echo x > $f) 2>/dev/null && echo "$f written" || echo "$f refused"; done';

/** tsrun's arguments for CMD in a container with VOLUME mounted. */
function withVolume(volume: string, cmd = tryWrites): string[] {
  return ['--rm', '--network', 'none', '-v', volume, '--rootfs', fx.rootfs, 'sh', '-c', cmd];
}

/** Runs tryWrites in a container with VOLUME mounted at /t. */
function writesWith(volume: string): string {
  const r = fx.run(withVolume(volume));
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('-v SRC:DST:ro is read-only in submounts too; rro likewise; ro-non-recursive only at the top', () => {
  const m = dirWithSubmount('ro');
  try {
    for (const mode of ['ro', 'rro']) {
      const out = writesWith(`${m.top}:/t:${mode}`);
      assert.match(out, /^\/t\/file refused$/m, `${mode}: ${out}`);
      assert.match(
        out,
        /^\/t\/sub\/file refused$/m,
        `${mode}: the submount stays writable:\n${out}`,
      );
    }
    const out = writesWith(`${m.top}:/t:ro-non-recursive`);
    assert.match(out, /^\/t\/file refused$/m, out);
    assert.match(out, /^\/t\/sub\/file written$/m, out);
  } finally {
    m.done();
  }
});

test('-v /:/host:ro: /host/proc, /host/sys/fs/cgroup and /host/dev/shm are read-only', () => {
  const probes = [
    '/host/proc/sys/kernel/core_pattern',
    '/host/proc/sys/kernel/hostname',
    '/host/sys/fs/cgroup/pids',
    '/host/sys/fs/cgroup/memory',
    '/host/sys/kernel/mm',
    '/host/dev/shm',
    '/host/tmp',
  ];
  const r = fx.run([
    '--rm',
    '--network',
    'none',
    '-v',
    '/:/host:ro',
    '--rootfs',
    fx.rootfs,
    'sh',
    '-c',
    `writable ${probes.join(' ')}; echo MOUNTS; cat /proc/self/mountinfo`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [access, mountinfo = ''] = r.stdout.split('MOUNTS\n') as [string, string?];
  for (const p of probes) assert.match(access, new RegExp(`^${p} EROFS$`, 'm'), access);
  const writableUnderHost = mountinfo
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] === '/host' || f[4]?.startsWith('/host/'))
    .filter((f) => !f[5]?.split(',').includes('ro'))
    .map((f) => f[4]);
  assert.deepEqual(writableUnderHost, [], 'every mount under /host is read-only');
});

test('without mount_setattr (Linux < 5.12): ro refuses a source with submounts; rro refuses; ro-non-recursive works', () => {
  const m = dirWithSubmount('old');
  const plain = join(fx.dir, 'plain');
  mkdirSync(plain);
  const tsrun = (volume: string, cmd = tryWrites) =>
    spawnSync(
      join(fx.dir, 'enosys'),
      ['mount_setattr', process.execPath, tsBin('tsrun'), ...withVolume(volume, cmd)],
      { encoding: 'utf8', timeout: 30000, env: { ...process.env, TSDOCK_ROOT: fx.root } },
    );
  try {
    const ro = tsrun(`${m.top}:/t:ro`);
    assert.equal(ro.status, 125, ro.stdout + ro.stderr);
    assert.equal(ro.stderr.trim().split('\n').length, 1, `one line: ${ro.stderr}`);
    assert.match(ro.stderr, /ro-non-recursive/);
    const rro = tsrun(`${m.top}:/t:rro`);
    assert.equal(rro.status, 125, rro.stdout + rro.stderr);
    assert.match(rro.stderr, /5\.12|mount_setattr/);
    const nonRec = tsrun(`${m.top}:/t:ro-non-recursive`);
    assert.equal(nonRec.status, 0, nonRec.stderr);
    assert.match(nonRec.stdout, /^\/t\/file refused$/m);
    // without submounts a plain remount is read-only all the way down already
    const noSub = tsrun(
      `${plain}:/t:ro`,
      '(echo x > /t/file) 2>/dev/null && echo written || echo refused',
    );
    assert.equal(noSub.status, 0, noSub.stderr);
    assert.match(noSub.stdout, /^refused$/m);
  } finally {
    m.done();
  }
});
