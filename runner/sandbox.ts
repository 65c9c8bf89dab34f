// The Sandbox seam: run one process isolated (namespaces, pivot_root, mounts, cgroups, caps).
//
// Mechanism: Node cannot call unshare/setns/pivot_root, so a small static C helper
// (runner/native/sandbox/, several C files) does every Linux call in one exec, with no shell
// and no util-linux on the hot path; this module only turns a request (plain data) into the
// helper's argv.
//
// The builder's RUN uses the simple entry point:
//   runInSandbox({ rootfs, argv, env, cwd, user?, network: 'none'|'host', hostname?, mounts?,
//                  limits?: {memory?, pids?}, stdout, stderr }) -> Promise<{ exitCode }>
// `rootfs` is a directory (e.g. an overlay the builder mounted); it is bind-mounted onto itself
// inside a private mount namespace, so nothing leaks to the host. Mount points the container
// needs (/proc, /sys, /dev and the targets of `mounts`) are created in the rootfs when missing:
// a builder that diffs the rootfs should ignore empty /proc, /sys and /dev directories it did
// not have before. Exit codes: the process's own, 128+n on signal n, 126/127 when the command
// is not executable / not found, 125 when the sandbox could not be set up.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Limits, Mount } from './spec.js';
import { TsdockError } from '../shared/errors.js';

/** Everything the native helper needs for `sandbox run`. */
export interface SandboxRequest {
  /** the container's root directory (overlay mount point when `overlay` is given) */
  rootfs: string;
  /** overlay: lowers are relative to base (top layer first); upper/work relative or absolute */
  overlay?: { base: string; lowers: string[]; upper: string; work: string };
  argv: string[];
  env: string[];
  cwd: string;
  /** user[:group] resolved in the container's own /etc/passwd and /etc/group */
  user?: string;
  hostname?: string;
  /** new: own network namespace (lo only); host: the host's; a path: join that nsfs file */
  network: 'new' | 'host' | string;
  /** ipc/uts namespaces to join (paths) instead of fresh ones */
  ipc?: string;
  uts?: string;
  mounts?: Mount[];
  /** cgroup directories to join before exec */
  cgroups?: string[];
  init?: boolean;
  tty?: boolean;
  readOnly?: boolean;
  /** where the helper writes the host pid of the container's PID 1 */
  pidFile?: string;
  /** fd number (in the helper) to read one byte from before setting up (network plumbing) */
  syncFd?: number;
  /** eth0's address, prefix length and default gateway (a veth moved in during syncFd's wait) */
  ip?: { address: string; prefix: number; gateway: string };
  /** drop CAP_MKNOD (when no devices cgroup fences device nodes, e.g. cgroup v2) */
  noMknod?: boolean;
  rlimits?: { name: string; soft: number | 'unlimited'; hard: number | 'unlimited' }[];
  /** rootless: the user namespace to join first (runner/rootless/userns.ts) */
  userns?: string;
}

/** The helper's --bind mode: rw, ro (submounts too), rro or ro-non-recursive. */
function bindMode(m: Mount): string {
  if (!m.readOnly) return 'rw';
  if (m.recursiveReadOnly === 'required') return 'rro';
  return m.recursiveReadOnly === 'disabled' ? 'ro-non-recursive' : 'ro';
}

/** The helper's argv for a request (pure). */
export function sandboxArgs(req: SandboxRequest): string[] {
  const a: string[] = ['run', '--rootfs', req.rootfs];
  if (req.userns) a.push('--userns', req.userns);
  if (req.overlay) {
    const { base, lowers, upper, work } = req.overlay;
    a.push('--overlay', base, lowers.join(':'), upper, work);
  }
  if (req.hostname) a.push('--hostname', req.hostname);
  a.push('--cwd', req.cwd || '/');
  if (req.user) a.push('--user', req.user);
  a.push('--net', req.network);
  if (req.ipc) a.push('--ipc', req.ipc);
  if (req.uts) a.push('--uts', req.uts);
  for (const m of req.mounts ?? []) {
    if (m.type === 'tmpfs') a.push('--tmpfs', m.target, m.options ?? 'mode=1777');
    else a.push('--bind', m.source, m.target, bindMode(m));
  }
  for (const dir of req.cgroups ?? []) a.push('--cgroup', dir);
  for (const e of req.env) a.push('--env', e);
  for (const r of req.rlimits ?? []) a.push('--rlimit', r.name, String(r.soft), String(r.hard));
  if (req.init) a.push('--init');
  if (req.tty) a.push('--tty');
  if (req.readOnly) a.push('--readonly');
  if (req.noMknod) a.push('--no-mknod');
  if (req.pidFile) a.push('--pid-file', req.pidFile);
  if (req.syncFd !== undefined) a.push('--sync-fd', String(req.syncFd));
  if (req.ip) a.push('--ip', req.ip.address, String(req.ip.prefix), req.ip.gateway);
  a.push('--', ...req.argv);
  return a;
}

/** The helper's argv for `sandbox exec` into a running container's PID 1 (pure). */
export function sandboxExecArgs(opts: {
  target: number;
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  cgroups?: string[];
  tty?: boolean;
  noMknod?: boolean;
  userns?: string;
}): string[] {
  const a = ['exec', '--target', String(opts.target), '--cwd', opts.cwd || '/'];
  if (opts.userns) a.push('--userns', opts.userns);
  if (opts.user) a.push('--user', opts.user);
  for (const dir of opts.cgroups ?? []) a.push('--cgroup', dir);
  for (const e of opts.env) a.push('--env', e);
  if (opts.tty) a.push('--tty');
  if (opts.noMknod) a.push('--no-mknod');
  a.push('--', ...opts.argv);
  return a;
}

async function helperPath(): Promise<string> {
  const { nativeBinary } = await import('../shared/native.js');
  return nativeBinary('sandbox');
}

/** Starts the helper; `wait()` resolves with the container's exit code. */
export async function spawnSandbox(
  args: string[],
  stdio: StdioOptions,
): Promise<{ child: ChildProcess; wait(): Promise<number> }> {
  const child = spawn(await helperPath(), args, { stdio });
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 0)),
    );
  });
  return { child, wait: () => done };
}

/** Waits for the helper's pid file (the container's PID 1 exists once it is there). */
export async function waitForPidFile(file: string, child: ChildProcess): Promise<number> {
  for (let i = 0; i < 5000; i++) {
    if (child.exitCode !== null) throw new TsdockError('the container exited during setup');
    try {
      const pid = Number(readFileSync(file, 'utf8'));
      if (pid > 0) return pid;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new TsdockError('the container did not start');
}

/** The builder's entry point: run one command in a rootfs directory and wait for it. */
export interface RunInSandboxOptions {
  rootfs: string;
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  network: 'none' | 'host';
  hostname?: string;
  mounts?: Mount[];
  limits?: Pick<Limits, 'memory' | 'pids'>;
  stdin?: 'ignore' | 'inherit';
  stdout: Writable;
  stderr: Writable;
}

/** Bind the host's resolver files over the rootfs's own when those exist as regular files. */
function etcMounts(rootfs: string, network: 'none' | 'host'): Mount[] {
  if (network !== 'host') return [];
  return ['/etc/resolv.conf', '/etc/hosts']
    .filter((p) => {
      try {
        return existsSync(p) && lstatSync(join(rootfs, p)).isFile();
      } catch {
        return false;
      }
    })
    .map((p) => ({ type: 'bind' as const, source: p, target: p, readOnly: true }));
}

export async function runInSandbox(opts: RunInSandboxOptions): Promise<{ exitCode: number }> {
  const { cgroupDriver } = await import('./cgroup-driver.js');
  const { randomBytes } = await import('node:crypto');
  const limits = opts.limits ?? {};
  const driver = cgroupDriver();
  const cgroup = driver.create(`build-${randomBytes(8).toString('hex')}`, limits);
  try {
    const args = sandboxArgs({
      rootfs: opts.rootfs,
      argv: opts.argv,
      env: opts.env,
      cwd: opts.cwd,
      user: opts.user,
      hostname: opts.hostname,
      network: opts.network === 'host' ? 'host' : 'new',
      uts: undefined,
      mounts: [...etcMounts(opts.rootfs, opts.network), ...(opts.mounts ?? [])],
      cgroups: cgroup.dirs,
      noMknod: driver.version === 2,
    });
    const { child, wait } = await spawnSandbox(args, [opts.stdin ?? 'ignore', 'pipe', 'pipe']);
    child.stdout!.pipe(opts.stdout, { end: false });
    child.stderr!.pipe(opts.stderr, { end: false });
    const exitCode = await wait();
    if (exitCode === 137 && cgroup.oomKilled()) {
      opts.stderr.write(`killed: out of memory (limit ${limits.memory} bytes)\n`);
    }
    return { exitCode };
  } finally {
    cgroup.remove();
  }
}
