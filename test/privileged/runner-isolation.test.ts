// Privileged: isolation seen from inside a container (processes, mounts, the minimal /dev, the
// /etc files), user/caps, exit codes, and escape attempts (mount targets and /etc/passwd
// symlinked out of the rootfs). Needs root.
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
  readdirSync,
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

test('a minimal /dev: the standard nodes and links, its own devpts and shm, nothing of the host', () => {
  const r = run([
    '--rm',
    '--network',
    'none',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    [
      'echo ALL $(ls -A /dev)',
      'for f in /dev/* /dev/pts/*; do if [ -L $f ]; then echo "$f -> $(readlink $f)"; else stat -c "%n %F %t:%T" $f; fi; done',
      'grep " /dev" /proc/mounts | cut -d" " -f2,3',
      'echo zero=$(head -c 3 /dev/zero | od -An -tx1 | tr -d " ")',
      '(echo x > /dev/full) 2>/dev/null || echo full-refused',
      'echo urandom=$(head -c 32 /dev/urandom | wc -c) random=$(head -c 8 /dev/random | wc -c)',
      'echo into-null > /dev/null && echo null-ok',
      // through pipes: Node gives the container sockets, which cannot be reopened by path
      '(echo via-stdout > /dev/stdout; echo via-fd > /dev/fd/1) | cat',
      '(echo via-stderr > /dev/stderr) 2>&1 | cat',
    ].join('; '),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const expected = [
    'ALL core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero',
    '/dev/core -> /proc/kcore',
    '/dev/fd -> /proc/self/fd',
    '/dev/full character special file 1:7',
    '/dev/mqueue directory 0:0',
    '/dev/null character special file 1:3',
    '/dev/ptmx -> pts/ptmx',
    '/dev/pts directory 0:0',
    '/dev/random character special file 1:8',
    '/dev/shm directory 0:0',
    '/dev/stderr -> /proc/self/fd/2',
    '/dev/stdin -> /proc/self/fd/0',
    '/dev/stdout -> /proc/self/fd/1',
    '/dev/tty character special file 5:0',
    '/dev/urandom character special file 1:9',
    '/dev/zero character special file 1:5',
    '/dev/pts/ptmx character special file 5:2',
    '/dev tmpfs',
    '/dev/pts devpts',
    '/dev/shm tmpfs',
    '/dev/mqueue mqueue',
    'zero=000000',
    'full-refused',
    'urandom=32 random=8',
    'null-ok',
    'via-stdout',
    'via-fd',
    'via-stderr',
    '',
  ];
  assert.deepEqual(lines, expected);
  assert.equal(r.stderr, '');
  const names = lines[0]!.split(' ').slice(1);
  for (const host of ['sda', 'vda', 'kmsg', 'mem', 'kvm', 'console', 'loop0', 'nvme0'])
    assert.ok(!names.includes(host), `the host's /dev/${host} is not there`);
  // the devpts instance is the container's own: the host's ptys are not listed in it
  const hostPts = readdirSync('/dev/pts').filter((n) => /^\d+$/.test(n));
  assert.ok(!lines.some((l) => /^\/dev\/pts\/\d/.test(l)), `no host ptys (host has ${hostPts})`);
});

test('/etc/hostname, /etc/hosts and /etc/resolv.conf are provided (default and --hostname)', () => {
  const show =
    'echo host=$(hostname); cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; stat -c %F /etc/resolv.conf; cat /etc/resolv.conf';
  const parse = (out: string) => {
    const [head, hosts, resolv] = out.split('---\n') as [string, string, string];
    const [hostLine, hostnameFile] = head.split('\n');
    return { host: hostLine!.slice('host='.length), hostnameFile, hosts, resolv };
  };
  const d = run(['--rm', '--network', 'none', '--rootfs', rootfs, 'sh', '-c', show]);
  assert.equal(d.code, 0, d.stderr);
  const def = parse(d.stdout);
  assert.match(def.host, /^[0-9a-f]{12}$/, 'the default hostname is the short id');
  assert.equal(def.hostnameFile, def.host, '/etc/hostname holds the hostname');
  assert.match(def.hosts, /^127\.0\.0\.1\s+localhost$/m);
  assert.match(def.hosts, /^::1\s+localhost\b/m);
  assert.match(def.hosts, new RegExp(`^\\S+\\s+${def.host}$`, 'm'), 'the hostname resolves');
  let hostResolv = '';
  try {
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none on this host: the container still gets a file */
  }
  assert.equal(def.resolv, `regular file\n${hostResolv}`, "resolv.conf is the host's");

  const n = run([
    '--rm',
    '--network',
    'bridge',
    '--hostname',
    'web.local',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    `${show}; echo ---; ip -4 -o addr show eth0`,
  ]);
  assert.equal(n.code, 0, n.stderr);
  const named = parse(n.stdout);
  assert.equal(named.host, 'web.local');
  assert.equal(named.hostnameFile, 'web.local');
  const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(n.stdout.split('---\n')[3] ?? '')?.[1];
  assert.ok(ip, n.stdout);
  assert.match(named.hosts, new RegExp(`^${ip.replaceAll('.', '\\.')}\\s+web\\.local$`, 'm'));
  assert.match(named.hosts, /^127\.0\.0\.1\s+localhost$/m);
  assert.ok(!existsSync(join(rootfs, 'etc/hosts')), 'the image itself is not changed');
  assert.ok(!existsSync(join(rootfs, 'etc/hostname')));
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
    'grep -E "Cap(Eff|Bnd)" /proc/self/status; echo kcore=$(wc -c < /proc/timer_list) interrupts=$(wc -c < /proc/interrupts); ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/hostname && echo WROTE; touch /sys/x && echo WROTE2; grep -E "NoNewPrivs|Seccomp:" /proc/self/status; unshare -U true 2>/dev/null && echo USERNS',
  ]);
  assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
  assert.match(r.stdout, /CapBnd:\s+00000000a80425fb/);
  assert.match(r.stdout, /kcore=0 interrupts=0/, 'masked as docker does');
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

test('supplementary groups from /etc/group only when -u names no group (as runc/docker)', () => {
  const fs3 = makeBusyboxRootfs(join(dir, 'groups'));
  writeFileSync(join(fs3, 'etc/group'), 'root:x:0:\nwheel:x:10:nobody\nnogroup:x:65534:\n');
  const groups = (user: string) => {
    const r = run([
      '--rm',
      '--network',
      'none',
      '-u',
      user,
      '--rootfs',
      fs3,
      'cat',
      '/proc/self/status',
    ]);
    assert.equal(r.code, 0, r.stderr);
    return /^Groups:\s*(.*)$/m.exec(r.stdout)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  };
  assert.deepEqual(groups('nobody').sort(), ['10', '65534'], 'a user name brings its groups');
  assert.deepEqual(groups('65534').sort(), ['10', '65534'], 'so does a uid found in passwd');
  assert.deepEqual(groups('65534:65534'), ['65534'], 'uid:gid brings no extra group');
  assert.deepEqual(groups('nobody:nogroup'), ['65534'], 'user:group brings no extra group');
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
