// Privileged: controlling running containers: tslogs -f following a detached container,
// tsexec -it with a real terminal and in the container's cgroup, tskill (default SIGKILL and
// chosen signals), tsstop's graceful path, SIGINT forwarded by a foreground tsrun, and tsrun
// -d -t reporting at once. Needs root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collect,
  inTerminal,
  leftoverCgroups,
  makeBusyboxRootfs,
  mountsMatching,
  sandboxProcesses,
  tsBin,
  tsCommand,
  tsSpawn,
  waitFor,
} from './runner-helpers.js';

let dir = '';
let root = '';
let rootfs = '';
const ts = (cmd: string, args: string[]) => tsCommand(root, cmd, args);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-ctl-'));
  root = join(dir, 'state');
  rootfs = makeBusyboxRootfs(dir);
});
after(() => {
  const ids = existsSync(join(root, 'containers'))
    ? readdirSync(join(root, 'containers')).filter((n) => !n.startsWith('.'))
    : [];
  for (const id of ids) ts('tsrm', ['-f', id]);
  assert.deepEqual(sandboxProcesses(root), [], 'no container process outlives the tests');
  assert.deepEqual(mountsMatching(root), []);
  rmSync(dir, { recursive: true, force: true });
});

/** `tsrun -d --network none --name NAME --rootfs ROOTFS ...cmd`; returns the id. */
function detached(name: string, cmd: string[], flags: string[] = []): string {
  const r = ts('tsrun', [
    '-d',
    '--name',
    name,
    '--network',
    'none',
    ...flags,
    '--rootfs',
    rootfs,
    ...cmd,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
  return r.stdout.trim();
}

/** Removes a container and checks it left no cgroup behind. */
function removeChecked(name: string, id: string): void {
  const r = ts('tsrm', ['-f', name]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftoverCgroups(id.slice(0, 12)), []);
}

const inspect = (name: string, format: string) =>
  ts('tsinspect', ['--format', format, name]).stdout.trim();

/** Waits until the container is recorded as exited; returns its exit code. */
async function exitCodeOf(name: string, ms = 10000): Promise<number> {
  const state = await waitFor(
    () => {
      const s = inspect(name, '{{.State.Status}} {{.State.ExitCode}}');
      return s.startsWith('exited ') && s;
    },
    `${name} to exit`,
    ms,
  );
  return Number(state.split(' ')[1]);
}

/** Waits until the container's logs contain `text`. */
const logsContain = (name: string, text: string) =>
  waitFor(() => ts('tslogs', [name]).stdout.includes(text), `"${text}" in the logs of ${name}`);

test('tslogs -f prints lines written after it started, both streams, and ends with the container', async () => {
  const id = detached('follow', [
    'sh',
    '-c',
    'echo first; echo oops >&2; until [ -e /tmp/go ]; do sleep 0.05; done; echo second; sleep 0.3; echo third; exit 3',
  ]);
  try {
    const f = tsSpawn(root, 'tslogs', ['-f', 'follow']);
    const logs = collect(f);
    await waitFor(() => logs.out().includes('first\n'), 'the first line');
    await waitFor(() => logs.err().includes('oops\n'), 'the stderr line on stderr');
    assert.doesNotMatch(logs.out(), /second/, 'nothing is printed before it is written');
    let ended = false;
    void logs.exit.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ended, false, 'tslogs -f keeps following a running container');
    assert.equal(ts('tsexec', ['follow', 'touch', '/tmp/go']).code, 0);
    await waitFor(() => logs.out().includes('second\n'), 'a line written after tslogs -f started');
    assert.equal(await logs.exit, 0, logs.err());
    assert.equal(logs.out(), 'first\nsecond\nthird\n');
    assert.equal(logs.err(), 'oops\n');
    assert.equal(await exitCodeOf('follow'), 3);
    const again = ts('tslogs', ['-f', 'follow']);
    assert.equal(again.code, 0, 'following an exited container prints its logs and returns');
    assert.equal(again.stdout, 'first\nsecond\nthird\n');
  } finally {
    removeChecked('follow', id);
  }
});

test('tsexec -it gets a pty of the container (tty names a /dev/pts entry inside it)', async () => {
  const id = detached('ttyexec', ['sleep', '300']);
  try {
    const script =
      'tty; test -t 0 && echo IN-TTY; test -t 1 && echo OUT-TTY; ls /dev/pts; stty size; exit 6';
    const r = await inTerminal(
      root,
      `stty cols 91 rows 33; ${process.execPath} ${tsBin('tsexec')} -it ttyexec sh -c '${script}'`,
    );
    assert.equal(r.code, 6, r.out);
    const m = /^\/dev\/pts\/(\d+)\r?\nIN-TTY\r?\nOUT-TTY\r?\n([^]*?)33 91\r?\n$/.exec(r.out);
    assert.ok(m, `a terminal inside: ${JSON.stringify(r.out)}`);
    assert.ok(m[2]!.split(/\s+/).includes(m[1]!), 'the pty is in the container /dev/pts');
    const plain = ts('tsexec', ['ttyexec', 'sh', '-c', 'tty; test -t 0 || echo NO-TTY']);
    assert.equal(plain.stdout, 'not a tty\nNO-TTY\n', 'without -t no terminal');
  } finally {
    removeChecked('ttyexec', id);
  }
});

test('tsrun -it: the terminal comes from the container devpts (tty names it)', async () => {
  const r = await inTerminal(
    root,
    `${process.execPath} ${tsBin('tsrun')} --rm -it --network none --rootfs ${rootfs} sh -c 'tty; ls /dev/pts; exit 4'`,
  );
  assert.equal(r.code, 4, r.out);
  const m = /^\/dev\/pts\/(\d+)\r?\n([^]*)$/.exec(r.out);
  assert.ok(m, `tty names a /dev/pts entry: ${JSON.stringify(r.out)}`);
  assert.ok(m[2]!.split(/\s+/).includes(m[1]!), 'which exists in the container');
});

test('tsrun -d -t returns once the command runs, not when it exits', async () => {
  const t0 = Date.now();
  const id = detached('dtty', ['sh', '-c', 'tty; sleep 5'], ['-t']);
  try {
    assert.ok(Date.now() - t0 < 3000, `tsrun -d -t returned after ${Date.now() - t0} ms`);
    await logsContain('dtty', '/dev/pts/');
    assert.equal(inspect('dtty', '{{.State.Running}}'), 'true');
  } finally {
    removeChecked('dtty', id);
  }
});

/** /proc/PID/cgroup on the host, one line per hierarchy. */
const hostCgroups = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8');

/** Host pids whose command line is exactly `argv`. */
function pidsRunning(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8') === want;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('tsexec joins the container cgroup (same as PID 1, seen inside and from the host)', async () => {
  const id = detached(
    'cgexec',
    ['sh', '-c', 'cat /proc/self/cgroup; exec sleep 300'],
    ['-m', '64m'],
  );
  try {
    await logsContain('cgexec', '0::');
    const own = ts('tslogs', ['cgexec']).stdout;
    const ex = ts('tsexec', ['cgexec', 'cat', '/proc/self/cgroup']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, own, 'the same cgroups (and cgroup namespace) as PID 1');
    const pid1 = Number(inspect('cgexec', '{{.State.Pid}}'));
    assert.match(hostCgroups(pid1), new RegExp(`/tsdock/${id}$`, 'm'));
    // from the host: a process started by tsexec sits in PID 1's cgroups in every hierarchy
    const marker = ['sleep', '61.5'];
    const exec = tsSpawn(root, 'tsexec', ['cgexec', ...marker]);
    const res = collect(exec);
    const [pid] = await waitFor(() => {
      const p = pidsRunning(marker);
      return p.length === 1 && p;
    }, 'the exec process');
    assert.equal(hostCgroups(pid!), hostCgroups(pid1));
    process.kill(pid!, 'SIGKILL');
    assert.equal(await res.exit, 137, 'tsexec exits 128+9 when its command is killed');
  } finally {
    removeChecked('cgexec', id);
  }
});

test('tskill: SIGKILL by default (137 in tsps and tsinspect); -s and --signal pick the signal', async () => {
  const a = detached('killa', ['sleep', '300']);
  const b = detached('killb', [
    'sh',
    '-c',
    'trap "exit 3" TERM; echo ready; while :; do sleep 0.05; done',
  ]);
  const c = detached('killc', [
    'sh',
    '-c',
    'trap "exit 9" USR1; echo ready; while :; do sleep 0.05; done',
  ]);
  try {
    const k = ts('tskill', ['killa']);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.stdout, 'killa\n');
    assert.equal(await exitCodeOf('killa'), 137);
    assert.equal(inspect('killa', '{{.State.Running}}'), 'false');
    assert.match(
      ts('tsps', ['-a']).stdout,
      new RegExp(`${a.slice(0, 12)} .*Exited \\(137\\).* killa`),
    );
    assert.doesNotMatch(ts('tsps', []).stdout, /killa/);

    await logsContain('killb', 'ready');
    const bad = ts('tskill', ['-s', 'NOSUCHSIG', 'killb']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid argument "NOSUCHSIG" for "-s, --signal" flag/);
    assert.equal(inspect('killb', '{{.State.Running}}'), 'true', 'a bad signal sends nothing');
    assert.equal(ts('tskill', ['-s', 'TERM', 'killb']).code, 0);
    assert.equal(await exitCodeOf('killb'), 3, 'PID 1 got SIGTERM and ran its trap');

    await logsContain('killc', 'ready');
    assert.equal(ts('tskill', ['--signal=SIGUSR1', 'killc']).code, 0);
    assert.equal(await exitCodeOf('killc'), 9);

    const gone = ts('tskill', ['killa']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /killa is not running/);
  } finally {
    removeChecked('killa', a);
    removeChecked('killb', b);
    removeChecked('killc', c);
  }
});

test('tsstop: a PID 1 that handles SIGTERM stops with its own code, long before -t', async () => {
  const a = detached('stopa', [
    'sh',
    '-c',
    'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done',
  ]);
  const b = detached('stopb', ['sleep', '300'], ['--init']);
  try {
    await logsContain('stopa', 'ready');
    let t0 = Date.now();
    const r = ts('tsstop', ['-t', '20', 'stopa']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'stopa\n');
    assert.ok(Date.now() - t0 < 5000, `stopped after ${Date.now() - t0} ms`);
    assert.equal(inspect('stopa', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 3');
    // --init forwards SIGTERM to a command without a handler: it dies of it (128+15)
    t0 = Date.now();
    assert.equal(ts('tsstop', ['--time=20', 'stopb']).code, 0);
    assert.ok(Date.now() - t0 < 5000, `stopped after ${Date.now() - t0} ms`);
    assert.equal(inspect('stopb', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 143');
    assert.equal(ts('tsstop', ['stopb']).code, 0, 'stopping a stopped container is fine');
  } finally {
    removeChecked('stopa', a);
    removeChecked('stopb', b);
  }
});

test('SIGINT to a foreground tsrun reaches PID 1 (its trap runs; under --init 130)', async () => {
  const fg = async (flags: string[], cmd: string): Promise<number> => {
    const child = tsSpawn(root, 'tsrun', [
      '--rm',
      '--network',
      'none',
      ...flags,
      '--rootfs',
      rootfs,
      'sh',
      '-c',
      `echo ready $(hostname); ${cmd}`,
    ]);
    const res = collect(child);
    const host = await waitFor(
      () => /^ready (\w+)\n/.exec(res.out())?.[1],
      'the container to start',
    );
    child.kill('SIGINT');
    const code = await res.exit;
    assert.equal(res.err(), '');
    assert.deepEqual(leftoverCgroups(host), [], 'its cgroup is gone');
    return code;
  };
  assert.equal(await fg([], 'trap "exit 7" INT; while :; do sleep 0.05; done'), 7);
  assert.equal(await fg(['--init'], 'exec sleep 30'), 130);
  assert.deepEqual(
    readdirSync(join(root, 'containers')).filter((n) => !n.startsWith('.')),
    [],
    '--rm removed both',
  );
});
