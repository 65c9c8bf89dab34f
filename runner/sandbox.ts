// The native helper's argv: Node cannot call unshare/setns/pivot_root, so a small static C
// helper (runner/native/sandbox/, several C files) does every Linux call in one exec, with no
// shell and no util-linux on the hot path; this module only turns a request (plain data) into
// its argv (`sandbox run` / `sandbox exec`), and waits for its pid file. Running a process is
// the executor's job (executor.ts, namespace-executor.ts), which uses it. Mount points the
// container needs (/proc, /sys, /dev and the targets of `mounts`) are created in the rootfs when
// missing: a builder that diffs the rootfs ignores the ones it did not have before. Exit codes:
// the process's own, 128+n on signal n, 126/127 when the command is not executable / not found,
// 125 when the sandbox could not be set up.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Mount } from './spec.js';
import { TsdockError } from '../shared/errors.js';
import { isRootless } from '../shared/rootless-env.js';
import { rootlessOverlayDriver } from './rootless/overlay-driver.js';

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
  /** rootless on kernels before 5.11: the overlay through fuse-overlayfs (defaults as
   * runner/rootless/overlay-driver.ts says) */
  fuseOverlay?: boolean;
}

/** The helper's --bind mode: rw, ro (submounts too), rro or ro-non-recursive. */
function bindMode(m: Mount): string {
  if (!m.readOnly) return 'rw';
  if (m.recursiveReadOnly === 'required') return 'rro';
  return m.recursiveReadOnly === 'disabled' ? 'ro-non-recursive' : 'ro';
}

/** The helper's argv for a request (pure, but for the rootless overlay driver's default). */
export function sandboxArgs(req: SandboxRequest): string[] {
  // rootless hook: fuse-overlayfs where the kernel will not mount overlay in a user namespace
  if (req.overlay && req.fuseOverlay === undefined && isRootless())
    req = { ...req, fuseOverlay: rootlessOverlayDriver() === 'fuse-overlayfs' };
  const a: string[] = ['run', '--rootfs', req.rootfs];
  if (req.userns) a.push('--userns', req.userns);
  if (req.overlay) {
    const { base, lowers, upper, work } = req.overlay;
    a.push('--overlay', base, lowers.join(':'), upper, work);
    if (req.fuseOverlay) a.push('--fuse-overlay');
  }
  if (req.hostname) a.push('--hostname', req.hostname);
  a.push('--cwd', req.cwd || '/');
  if (req.user) a.push('--user', req.user);
  a.push('--net', req.network);
  if (req.ipc) a.push('--ipc', req.ipc);
  if (req.uts) a.push('--uts', req.uts);
  for (const m of req.mounts ?? []) {
    if (m.type === 'tmpfs') a.push('--tmpfs', m.target, m.options ?? 'mode=1777');
    else if (m.sourceRoot) a.push('--bind-in', m.sourceRoot, m.source, m.target, bindMode(m));
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
