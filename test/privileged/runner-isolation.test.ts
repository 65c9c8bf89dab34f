// Privileged: isolation seen from inside a container, user/caps, exit codes, and escape attempts
// (mount targets and /etc/passwd symlinked out of the rootfs). Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs, tsCommand, leftoverCgroups } from './runner-helpers.js';

let dir = '';
let root = '';
let rootfs = '';
const run = (args: string[]) => tsCommand(root, 'tsrun', args);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-iso-'));
  root = join(dir, 'state');
  rootfs = makeBusyboxRootfs(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('PID 1, own hostname, no host processes, mounts or network devices', () => {
  const r = run([
    '--rm',
    '--network',
    'none',
    '--hostname',
    'box',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'echo pid=$$; hostname; echo procs=$(ls /proc | grep "^[0-9]" | tr "\\n" " "); ls /sys/class/net | tr "\\n" " "; echo; cat /proc/self/mountinfo; ls /proc/self/fd | tr "\\n" " "',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^pid=1$/m);
  assert.match(out, /^box$/m);
  const pids = (/procs=(.*)/.exec(out)?.[1] ?? '').trim().split(' ').map(Number);
  assert.ok(pids.length > 0 && pids.every((p) => p < 20), `container sees pids ${pids}`);
  assert.ok(!pids.includes(process.pid));
  assert.match(out, /^lo $/m, 'only the loopback device is visible');
  const mountPoints = out
    .split('\n')
    .filter((l) => l.includes(' - '))
    .map((l) => l.split(' ')[4]!);
  assert.ok(mountPoints.length > 5 && mountPoints.length < 30, mountPoints.join(' '));
  assert.ok(!mountPoints.some((m) => m.startsWith(dir)), 'host paths are not mount points');
  assert.ok(!/ \/work /.test(out), 'host mounts are not visible');
  assert.match(out, /^0 1 2 3 ?$/m, 'no host file descriptors leak in');
});

test('masked and read-only /proc paths; docker default capabilities', () => {
  const r = run([
    '--rm',
    '--network',
    'none',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'grep -E "Cap(Eff|Bnd)" /proc/self/status; echo kcore=$(wc -c < /proc/timer_list); ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/hostname && echo WROTE; touch /sys/x && echo WROTE2; grep -E "NoNewPrivs|Seccomp:" /proc/self/status; unshare -U true 2>/dev/null && echo USERNS',
  ]);
  assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
  assert.match(r.stdout, /CapBnd:\s+00000000a80425fb/);
  assert.match(r.stdout, /kcore=0/);
  assert.match(r.stdout, /^0$/m);
  assert.doesNotMatch(r.stdout, /WROTE/);
  assert.match(r.stdout, /NoNewPrivs:\s+1/);
  assert.match(r.stdout, /Seccomp:\s+2/, 'a seccomp filter is on');
  assert.doesNotMatch(r.stdout, /USERNS/, 'no new (user) namespaces from inside');
});

test('user from the image passwd: no capabilities, HOME set; exit codes 126/127/128+n', () => {
  const r = run([
    '--rm',
    '--network',
    'none',
    '-u',
    'nobody',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'id; echo home=$HOME; grep CapEff /proc/self/status',
  ]);
  assert.match(r.stdout, /uid=65534\(nobody\) gid=65534\(nogroup\)/);
  assert.match(r.stdout, /home=\/home/);
  assert.match(r.stdout, /CapEff:\s+0{16}/);
  assert.equal(run(['--rm', '--network', 'none', '--rootfs', rootfs, 'nosuchcmd']).code, 127);
  assert.equal(run(['--rm', '--network', 'none', '--rootfs', rootfs, '/etc/passwd']).code, 126);
  assert.equal(
    run(['--rm', '--network', 'none', '--rootfs', rootfs, 'sh', '-c', 'exit 7']).code,
    7,
  );
  assert.equal(
    run(['--rm', '--network', 'none', '--init', '--rootfs', rootfs, 'sh', '-c', 'kill -TERM $$'])
      .code,
    143,
  );
  const bad = run(['--rm', '--network', 'none', '-u', 'ghost', '--rootfs', rootfs, 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unable to find user ghost/);
});

test('volumes: rw and ro binds, tmpfs, a named volume', () => {
  const host = join(dir, 'vol');
  mkdirSync(host);
  writeFileSync(join(host, 'in.txt'), 'from-host');
  const r = run([
    '--rm',
    '--network',
    'none',
    '-v',
    `${host}:/data`,
    '-v',
    `${host}:/ro:ro`,
    '--tmpfs',
    '/scratch',
    '-v',
    'named1:/named',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'cat /data/in.txt; echo out > /data/out.txt; touch /ro/x 2>/dev/null || echo RO; mount | grep -c " /scratch type tmpfs"; echo keep > /named/f',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /from-host/);
  assert.match(r.stdout, /RO/);
  assert.equal(readFileSync(join(host, 'out.txt'), 'utf8'), 'out\n');
  assert.equal(readFileSync(join(root, 'volumes/named1/_data/f'), 'utf8'), 'keep\n');
});

test('escape: volume targets through symlinks stay inside the rootfs', () => {
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  symlinkSync('/', join(rootfs, 'evil'));
  symlinkSync(outside, join(rootfs, 'abs'));
  const host = join(dir, 'vol2');
  mkdirSync(host);
  writeFileSync(join(host, 'marker'), 'm');
  const name = `tsdock-escape-${process.pid}`;
  const r = run([
    '--rm',
    '--network',
    'none',
    '-v',
    `${host}:/evil/${name}`,
    '-v',
    `${host}:/abs/sub`,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    `cat /${name}/marker; cat ${outside}/sub/marker`,
  ]);
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'mm');
    assert.ok(!existsSync(`/${name}`), 'nothing was created at the host root');
    assert.ok(!existsSync(join(outside, 'sub')), 'nothing was created in the host directory');
  } finally {
    rmSync(`/${name}`, { recursive: true, force: true });
  }
});

test('escape: an image /etc/passwd symlinked to a host file is resolved inside the rootfs', () => {
  const hostPasswd = join(dir, 'host-passwd');
  writeFileSync(hostPasswd, 'evil:x:4242:4242::/:/bin/sh\n');
  const fs2 = makeBusyboxRootfs(join(dir, 'img2'));
  rmSync(join(fs2, 'etc/passwd'));
  symlinkSync(hostPasswd, join(fs2, 'etc/passwd'));
  const r = run(['--rm', '--network', 'none', '-u', 'evil', '--rootfs', fs2, 'id']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /unable to find user evil/);
  assert.deepEqual(leftoverCgroups(), []);
});

test('--read-only root with a --tmpfs scratch; --cpu-period/--cpu-quota/--cpu-shares reach the cgroup', () => {
  const r = run([
    '--rm',
    '--network',
    'none',
    '--read-only',
    '--tmpfs',
    '/scratch',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'touch /x 2>/dev/null || echo RO-ROOT; touch /scratch/y && echo SCRATCH-OK',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /RO-ROOT\nSCRATCH-OK/);
  const d = run([
    '-d',
    '--network',
    'none',
    '--cpu-period',
    '50000',
    '--cpu-quota',
    '10000',
    '--cpu-shares',
    '512',
    '--rootfs',
    rootfs,
    'sleep',
    '30',
  ]);
  assert.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  try {
    const v1 = join('/sys/fs/cgroup/cpu/tsdock', id);
    if (existsSync(v1)) {
      assert.equal(readFileSync(join(v1, 'cpu.cfs_period_us'), 'utf8').trim(), '50000');
      assert.equal(readFileSync(join(v1, 'cpu.cfs_quota_us'), 'utf8').trim(), '10000');
      assert.equal(readFileSync(join(v1, 'cpu.shares'), 'utf8').trim(), '512');
    } else {
      assert.equal(
        readFileSync(join('/sys/fs/cgroup/tsdock', id, 'cpu.max'), 'utf8').trim(),
        '10000 50000',
      );
    }
  } finally {
    tsCommand(root, 'tsrm', ['-f', id]);
  }
});
