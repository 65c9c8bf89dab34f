// Privileged: the sandbox helper fails closed. Every option reaches the container or the run
// stops with one line and 125 (2000 -e flags, 300 volumes and tmpfs, 20 cgroups), and no host
// descriptor leaks in, even where close_range is missing (imitated with a seccomp filter making
// it fail ENOSYS, as on kernels before 5.9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runnerFixture } from './runner-helpers.js';
import { compileStatic, ENOSYS_C } from './native-probes.js';

const sandbox = fileURLToPath(new URL('../../native/sandbox', import.meta.url));
const fx = runnerFixture('tsdock-failclosed-', (f) =>
  compileStatic(ENOSYS_C, join(f.dir, 'enosys')),
);

test('2000 -e flags all reach the container', () => {
  const env = Array.from({ length: 2000 }, (_, i) => ['-e', `E${i}=v${i}`]).flat();
  const r = fx.run([
    '--rm',
    '--network',
    'none',
    ...env,
    '--rootfs',
    fx.rootfs,
    'sh',
    '-c',
    'env | grep -c "^E[0-9]*=v"; echo "last=$E1999"',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2000$/m, 'every -e entry is in the environment');
  assert.match(r.stdout, /^last=v1999$/m);
});

test('300 -v and 300 --tmpfs flags are all mounted', () => {
  const vol = join(fx.dir, 'vol');
  mkdirSync(vol, { recursive: true });
  const flags = Array.from({ length: 300 }, (_, i) => [
    ['-v', `${vol}:/v/${i}:ro`],
    ['--tmpfs', `/t/${i}`],
  ]).flat(2);
  const r = fx.run([
    '--rm',
    '--network',
    'none',
    ...flags,
    '--rootfs',
    fx.rootfs,
    'sh',
    '-c',
    'grep -c " /v/[0-9]* " /proc/self/mountinfo; grep -c " /t/[0-9]* " /proc/self/mountinfo',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '300\n300\n');
});

test('20 --cgroup directories: the process joins every one (the last one holds it)', () => {
  const base = join('/sys/fs/cgroup/pids', `tsdock-failclosed-${process.pid}`);
  const dirs = Array.from({ length: 20 }, (_, i) => join(base, `c${i}`));
  mkdirSync(base);
  try {
    for (const d of dirs) mkdirSync(d);
    const r = spawnSync(
      sandbox,
      [
        'run',
        '--rootfs',
        fx.rootfs,
        '--net',
        'new',
        '--bind',
        base,
        '/cg',
        'rw',
        ...dirs.flatMap((d) => ['--cgroup', d]),
        '--',
        'sh',
        '-c',
        'for i in $(seq 0 19); do echo "c$i=$(cat /cg/c$i/cgroup.procs | wc -l)"; done',
      ],
      { encoding: 'utf8', timeout: 30000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^c19=[1-9]/m, `the last cgroup holds the process:\n${r.stdout}`);
    assert.match(r.stdout, /^c15=0$/m, r.stdout);
  } finally {
    for (const d of dirs) rmdirSync(d);
    rmdirSync(base);
  }
});

test('no host descriptor leaks into the container, even where close_range is missing', () => {
  // fd 7 is inherited without CLOEXEC (node passes extra stdio entries that way)
  const stdio = ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', 'pipe'] as const;
  for (const wrap of [[], [join(fx.dir, 'enosys'), 'close_range']]) {
    for (const init of [[], ['--init']]) {
      const r = spawnSync(
        wrap[0] ?? sandbox,
        [
          ...wrap.slice(1),
          ...(wrap.length ? [sandbox] : []),
          'run',
          '--rootfs',
          fx.rootfs,
          '--net',
          'new',
          ...init,
          '--',
          'sh',
          '-c',
          'ls /proc/self/fd /proc/1/fd | tr "\\n" " "',
        ],
        { encoding: 'utf8', timeout: 30000, stdio: [...stdio] },
      );
      const what = `${wrap.length ? 'without close_range' : 'with close_range'} ${init.join('')}`;
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.ok(!/ 7 /.test(` ${r.stdout} `), `${what}: fd 7 leaked in: ${r.stdout}`);
    }
  }
});
