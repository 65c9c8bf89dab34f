// Test fixtures for the runner's privileged tests: a busybox rootfs made from the host's static
// busybox (busybox-static), and a cleanup check for leftovers (mounts, cgroups, processes).
import { before, after } from 'node:test';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execFileSync, spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

/** A fresh busybox root filesystem directory (with /etc/passwd, /etc/group). */
export function makeBusyboxRootfs(parent = mkdtempSync(join(tmpdir(), 'tsdock-rootfs-'))): string {
  const root = join(parent, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  execFileSync('chmod', ['755', join(root, 'bin/busybox')]);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n');
  for (const a of applets) if (a && a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return root;
}

/** A cgroup v2 hierarchy to test the v2 driver on (the host's, or a hybrid host's unified
 * mount), or undefined when there is none. */
export function cgroupV2Root(): string | undefined {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if (existsSync(join(dir, 'cgroup.controllers'))) return dir;
  }
  return undefined;
}

/** Host mounts whose path contains `needle` (from /proc/self/mountinfo). */
export function mountsMatching(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle));
}

/** Container cgroups left under tsdock/ in any v1 hierarchy or the v2 tree. */
export function leftoverCgroups(prefix = ''): string[] {
  const out: string[] = [];
  for (const c of ['memory', 'cpu', 'pids', 'devices', 'cpuacct', 'freezer', 'unified', '']) {
    const dir = join('/sys/fs/cgroup', c, 'tsdock');
    try {
      out.push(
        ...readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && d.name.startsWith(prefix))
          .map((d) => join(dir, d.name)),
      );
    } catch {
      /* no such hierarchy */
    }
  }
  return out;
}

/** Runs one of the runner's commands (compiled bin/<cmd>.js) with TSDOCK_ROOT=root. */
export function tsCommand(
  root: string,
  cmd: string,
  args: string[],
  opts: { input?: string; timeout?: number; env?: Record<string, string> } = {},
): { code: number; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [tsBin(cmd), ...args], {
    env: { ...process.env, ...opts.env, TSDOCK_ROOT: root },
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeout ?? 30000,
  });
  return { code: res.status ?? 128, stdout: res.stdout, stderr: res.stderr };
}

/** Host processes of the sandbox helper working under `root` (leftover check). */
export function sandboxProcesses(root: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readlinkSync(`/proc/${pid}/exe`).endsWith('/native/sandbox')) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(root)) out.push(Number(pid));
    } catch {
      /* gone or kernel thread */
    }
  }
  return out;
}

/** Host network devices created for containers (veth host ends). */
export function leftoverVeths(): string[] {
  return readdirSync('/sys/class/net').filter((n) => n.startsWith('tsv'));
}

/** Path of a runner command's compiled entry point (dist/bin/<cmd>.js). */
export function tsBin(cmd: string): string {
  return fileURLToPath(new URL(`../../bin/${cmd}.js`, import.meta.url));
}

/** Starts one of the runner's commands without waiting (stdout/stderr piped, stdin ignored). */
export function tsSpawn(
  root: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string> } = {},
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [tsBin(cmd), ...args], {
    env: { ...process.env, ...opts.env, TSDOCK_ROOT: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output as it comes; `exit` resolves with its exit code (128+n on signal n). */
export function collect(child: ChildProcessByStdio<null, Readable, Readable>): {
  out: () => string;
  err: () => string;
  exit: Promise<number>;
} {
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number>((resolve) =>
    child.once('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    ),
  );
  return { out: () => out, err: () => err, exit };
}

export { waitFor } from '../helpers/wait.js';

/**
 * Runs a shell command line under script(1), so the command's stdin and stdout are a terminal.
 * script's stdin stays open until the command exits: at EOF script would type an EOF character
 * into the terminal, which shows up in the output as "^@".
 */
export async function inTerminal(
  root: string,
  cmdline: string,
  timeout = 20000,
): Promise<{ code: number; out: string }> {
  const child = spawn('script', ['-qec', cmdline, '/dev/null'], {
    env: { ...process.env, TSDOCK_ROOT: root },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const code = await new Promise<number>((resolve) =>
    child.once('close', (c, signal) =>
      resolve(c ?? 128 + (signal ? constants.signals[signal] : 0)),
    ),
  );
  clearTimeout(timer);
  child.stdin.destroy();
  return { code, out };
}

/** A test file's scratch: a temp dir with a busybox rootfs and a TSDOCK_ROOT for tsrun. */
export interface RunnerFixture {
  dir: string;
  root: string;
  rootfs: string;
  /** tsrun with TSDOCK_ROOT=root */
  run(args: string[]): { code: number; stdout: string; stderr: string };
}

/** Registers before/after hooks that make (then `prepare`) and remove a RunnerFixture. */
export function runnerFixture(prefix: string, prepare?: (f: RunnerFixture) => void): RunnerFixture {
  const f: RunnerFixture = {
    dir: '',
    root: '',
    rootfs: '',
    run: (args) => tsCommand(f.root, 'tsrun', args),
  };
  before(() => {
    f.dir = mkdtempSync(join(tmpdir(), prefix));
    f.root = join(f.dir, 'state');
    f.rootfs = makeBusyboxRootfs(f.dir);
    prepare?.(f);
  });
  after(() => rmSync(f.dir, { recursive: true, force: true }));
  return f;
}
