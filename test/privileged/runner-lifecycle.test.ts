// Privileged: cgroup limits (memory OOM -> 137 with a message, pids, cpu quota), detached
// lifecycle (ps, logs, exec in the same pid namespace, stop, rm), -p publishing through the
// bridge, and 100 runs leaving no mounts, cgroups, veths or processes behind. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  leftoverCgroups,
  leftoverVeths,
  makeBusyboxRootfs,
  mountsMatching,
  sandboxProcesses,
  tsCommand,
  waitFor,
} from './runner-helpers.js';

let dir = '';
let root = '';
let rootfs = '';
const ts = (cmd: string, args: string[]) => tsCommand(root, cmd, args);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-life-'));
  root = join(dir, 'state');
  rootfs = makeBusyboxRootfs(dir);
});
after(() => {
  for (const id of existsSync(join(root, 'containers'))
    ? readdirSync(join(root, 'containers'))
    : []) {
    if (!id.startsWith('.')) ts('tsrm', ['-f', id]);
  }
  rmSync(dir, { recursive: true, force: true });
});

function cgroupFile(id: string, v1: string, v2: string): string {
  const p1 = join('/sys/fs/cgroup', v1.split('.')[0]!, 'tsdock', id, v1);
  return existsSync(p1) ? p1 : join('/sys/fs/cgroup/tsdock', id, v2);
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('memory hog under -m 32m exits 137 and says it hit the memory limit', () => {
  const r = ts('tsrun', [
    '--rm',
    '--network',
    'none',
    '-m',
    '32m',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived',
  ]);
  assert.equal(r.code, 137, r.stderr);
  assert.doesNotMatch(r.stdout, /survived/);
  assert.match(r.stderr, /out of memory \(memory limit 32m\)/);
});

test('fork bomb under --pids-limit 20 is contained', async () => {
  const id = ts('tsrun', [
    '-d',
    '--network',
    'none',
    '--pids-limit',
    '20',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    '(for i in $(seq 60); do sleep 30 & done) 2>/dev/null; exec sleep 30',
  ]).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  // Wait until the limit has refused a fork (the bomb reached it), then check the count.
  const events = await waitFor(() => {
    const text = readFileSync(cgroupFile(id, 'pids.events', 'pids.events'), 'utf8');
    return /max [1-9]/.test(text) && text;
  }, 'the pids limit to refuse a fork');
  assert.match(events, /max [1-9]/, 'the limit refused forks');
  const current = Number(readFileSync(cgroupFile(id, 'pids.current', 'pids.current'), 'utf8'));
  assert.ok(current <= 20 && current >= 10, `pids.current=${current}`);
  assert.match(ts('tsps', []).stdout, new RegExp(id.slice(0, 12)), 'the container itself survived');
  assert.equal(ts('tsrm', ['-f', id]).code, 0);
  assert.deepEqual(leftoverCgroups(id.slice(0, 12)), []);
});

test('--cpus 0.2 holds a busy loop near 20% of a core', async () => {
  const id = ts('tsrun', [
    '-d',
    '--network',
    'none',
    '--cpus',
    '0.2',
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'while :; do :; done',
  ]).stdout.trim();
  try {
    // CPU seconds used, and CFS periods in which the loop was runnable (the scheduler's own
    // clock: the share is measured over periods, not over a wall-clock sleep).
    const usage = () => {
      const v1 = join('/sys/fs/cgroup/cpuacct/tsdock', id, 'cpuacct.usage');
      if (existsSync(v1)) return Number(readFileSync(v1, 'utf8')) / 1e9;
      const m = /usage_usec (\d+)/.exec(
        readFileSync(join('/sys/fs/cgroup/tsdock', id, 'cpu.stat'), 'utf8'),
      );
      return Number(m?.[1]) / 1e6;
    };
    const cpuStat = cgroupFile(id, 'cpu.stat', 'cpu.stat');
    const periods = () => Number(/nr_periods (\d+)/.exec(readFileSync(cpuStat, 'utf8'))?.[1]);
    const v1Period = join('/sys/fs/cgroup/cpu/tsdock', id, 'cpu.cfs_period_us');
    const periodSeconds = existsSync(v1Period)
      ? Number(readFileSync(v1Period, 'utf8')) / 1e6
      : Number(readFileSync(join('/sys/fs/cgroup/tsdock', id, 'cpu.max'), 'utf8').split(' ')[1]) /
        1e6;
    await waitFor(() => usage() > 0 && periods() > 0, 'the busy loop to start');
    const [u0, p0] = [usage(), periods()];
    const span = await waitFor(
      () => periods() - p0 >= 20 && periods() - p0,
      '20 scheduler periods',
    );
    const share = (usage() - u0) / (span * periodSeconds);
    assert.ok(share > 0.12 && share < 0.28, `measured ${share.toFixed(3)} of a core`);
  } finally {
    ts('tsrm', ['-f', id]);
  }
});

test('detached web server: -p publishes, logs, exec joins the pid namespace, stop and rm', async () => {
  const port = await freePort();
  const r = ts('tsrun', [
    '-d',
    '--name',
    'web',
    '-p',
    `${port}:80`,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'mkdir -p /www && echo "Hello from $(hostname)" > /www/index.html && echo started && exec httpd -f -p 80 -h /www',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const body = await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/`).then(
        (res) => res.text(),
        () => undefined,
      ),
    'the published port to answer',
  );
  assert.equal(body, `Hello from ${id.slice(0, 12)}\n`);
  assert.match(ts('tsps', []).stdout, new RegExp(`${id.slice(0, 12)} .* web`));
  assert.equal(ts('tslogs', ['web']).stdout, 'started\n');
  const ex = ts('tsexec', ['web', 'sh', '-c', 'cat /proc/1/comm; echo $$']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /^httpd\n\d+\n$/);
  const inspect = await import('../../runner/containers.js');
  process.env.TSDOCK_ROOT = root;
  const info = (await inspect.inspectContainer('web')) as {
    State: { Pid: number; Running: boolean };
  };
  assert.equal(info.State.Running, true);
  assert.ok(info.State.Pid > 1 && existsSync(`/proc/${info.State.Pid}`));
  assert.equal(ts('tsstop', ['-t', '1', 'web']).code, 0);
  assert.match(ts('tsps', ['-a']).stdout, /Exited \(137\)/);
  assert.equal(ts('tsrm', ['web']).code, 0);
  assert.equal(ts('tsps', ['-a']).stdout.split('\n').filter(Boolean).length, 1);
  assert.deepEqual(leftoverVeths(), []);
});

test('100 runs leave no mounts, cgroups, veths or processes behind', () => {
  const started = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const net = i % 10 === 0 ? 'bridge' : 'none';
    const r = ts('tsrun', [
      '--rm',
      '--network',
      net,
      '-m',
      '64m',
      '--rootfs',
      rootfs,
      'sh',
      '-c',
      'cat /etc/hostname',
    ]);
    assert.equal(r.code, 0, r.stderr);
    started.add(r.stdout.trim());
  }
  assert.deepEqual(
    readdirSync(join(root, 'containers')).filter((n) => !n.startsWith('.')),
    [],
  );
  assert.deepEqual(leftoverCgroups(), []);
  assert.deepEqual(leftoverVeths(), []);
  assert.deepEqual(mountsMatching(root), []);
  assert.deepEqual(sandboxProcesses(root), []);
});

test('tsrun -d reports an exec failure itself (127/126) and the record says so', () => {
  const r = ts('tsrun', [
    '-d',
    '--name',
    'broken',
    '--network',
    'none',
    '--rootfs',
    rootfs,
    'nosuchcmd',
  ]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /executable file not found/);
  assert.match(ts('tsps', ['-a']).stdout, /Exited \(127\).*broken/);
  assert.equal(ts('tsrm', ['broken']).code, 0);
});
