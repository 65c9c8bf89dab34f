// Container records: state on disk, names, lookup, liveness, removal and docker-inspect output.
//
//   $TSDOCK_ROOT/containers/               (disk: survives a reboot)
//     .names/<name> -> <id>        symlink: creating it atomically reserves the name
//     <id>/state.json              ContainerState (written via rename, never half-written)
//     <id>/container.log[.1]       json-lines logs of detached containers (size-capped)
//     <id>/{upper,work}            the container's own overlay layer (tscommit reads upper)
//   $TSDOCK_RUNTIME (/run/tsdock for root: tmpfs, gone after a reboot, like /run/runc)
//     <id>/ctr.pid                 host pid of the container's PID 1 (written by the helper)
//     <id>/{l,rootfs}              lowerdir links and the mount point (runner/rootfs.ts)
//     <id>/{hosts,hostname,resolv.conf}
//
// Keeping the per-run scaffolding on tmpfs halves the file system metadata operations on
// the start path; on a busy ext4 each costs milliseconds.
//
// Liveness is never trusted from the file alone: a "running" record whose supervisor pid is
// gone, or that was written before the last reboot (boot_id differs), is settled as exited
// and its cgroup removed, so a crashed monitor or a reboot leaves nothing to trip over.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec } from './spec.js';
import { containersRoot } from '../shared/paths.js';
import { NotFoundError, InvalidInputError, TsdockError } from '../shared/errors.js';

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerState {
  id: string;
  name: string;
  /** the reference the user gave */
  image: string;
  /** config digest (or "rootfs:<dir>" for --rootfs runs) */
  imageId: string;
  created: string;
  spec: ContainerSpec;
  status: ContainerStatus;
  /** pid of the supervising process (tsrun itself in the foreground, the monitor with -d) */
  monitorPid?: number;
  bootId: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  autoRemove: boolean;
  detached: boolean;
  /** bridge address, when on the bridge network */
  ip?: string;
  /** the image's layer directories (bottom first), or the --rootfs directory */
  layers: string[];
  /** config carried over by tscommit */
  imageConfig?: Record<string, unknown>;
}

export { tsdockRoot, containersRoot } from '../shared/paths.js';

export function containerDir(id: string): string {
  return join(containersRoot(), id);
}

/** tmpfs scratch of a container (see the tree above). */
export function runtimeRoot(): string {
  if (process.env.TSDOCK_RUNTIME) return process.env.TSDOCK_RUNTIME;
  if (process.getuid?.() === 0) return '/run/tsdock'; // container ids are unique across roots
  return join(process.env.XDG_RUNTIME_DIR ?? join(containersRoot(), '..', 'run'), 'tsdock');
}

export function runtimeDir(id: string): string {
  return join(runtimeRoot(), id);
}

let bootIdCache: string | undefined;
export function bootId(): string {
  bootIdCache ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

export function saveState(st: ContainerState): void {
  const file = join(containerDir(st.id), 'state.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(st, null, 2));
  renameSync(`${file}.tmp`, file);
}

export function loadState(id: string): ContainerState | undefined {
  try {
    return JSON.parse(readFileSync(join(containerDir(id), 'state.json'), 'utf8')) as ContainerState;
  } catch {
    return undefined;
  }
}

/** Reserves a name for an id (atomically); throws if another container has it. */
export function reserveName(name: string, id: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new InvalidInputError(
      `invalid container name "${name}"`,
      'use [a-zA-Z0-9][a-zA-Z0-9_.-]*',
    );
  }
  const dir = join(containersRoot(), '.names');
  mkdirSync(dir, { recursive: true });
  try {
    symlinkSync(id, join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = readlinkSync(join(dir, name));
    if (existsSync(containerDir(owner))) {
      throw new TsdockError(
        `the container name "${name}" is already in use by container ${owner.slice(0, 12)}`,
        'remove that container (tsrm) or choose another name',
      );
    }
    unlinkSync(join(dir, name)); // stale: its container is gone
    symlinkSync(id, join(dir, name));
  }
}

function releaseName(name: string, id: string): void {
  const link = join(containersRoot(), '.names', name);
  try {
    if (readlinkSync(link) === id) unlinkSync(link);
  } catch {
    /* not reserved */
  }
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    // a zombie (Z) or dead (X) process answers kill(0) but is not running
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Host pid of the container's PID 1 while it runs. */
export function containerPid(st: ContainerState): number | undefined {
  if (st.status !== 'running') return undefined;
  try {
    const pid = Number(readFileSync(join(runtimeDir(st.id), 'ctr.pid'), 'utf8').trim());
    return pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Settles a record whose supervisor died or predates this boot (crash/reboot recovery). */
export async function reconcile(st: ContainerState): Promise<ContainerState> {
  if (st.status !== 'running') return st;
  if (st.bootId === bootId() && pidAlive(st.monitorPid)) return st;
  // the supervisor died: its container must not run on unsupervised (same boot only: after a
  // reboot the pid belongs to someone else)
  const orphan = st.bootId === bootId() ? containerPid(st) : undefined;
  if (orphan) {
    try {
      process.kill(orphan, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const { cgroupDriver } = await import('./cgroups.js');
  try {
    cgroupDriver().open(st.id).remove();
  } catch {
    /* best effort */
  }
  const settled: ContainerState = {
    ...st,
    status: 'exited',
    exitCode: st.exitCode ?? 255,
    finishedAt: st.finishedAt ?? new Date().toISOString(),
  };
  saveState(settled);
  return settled;
}

/** Every container, reconciled, newest first. */
export async function listContainers(): Promise<ContainerState[]> {
  let ids: string[] = [];
  try {
    ids = readdirSync(containersRoot()).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  const states = ids.map(loadState).filter((s): s is ContainerState => !!s);
  const settled = await Promise.all(states.map(reconcile));
  return settled.sort((a, b) => b.created.localeCompare(a.created));
}

/** By exact name, full id or unique id prefix. */
export async function findContainer(ref: string): Promise<ContainerState> {
  const named = join(containersRoot(), '.names', ref);
  try {
    const st = loadState(readlinkSync(named));
    if (st) return reconcile(st);
  } catch {
    /* not a name */
  }
  const direct = loadState(ref);
  if (direct) return reconcile(direct);
  const all = await listContainers();
  const matches = all.filter((c) => c.id.startsWith(ref));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new InvalidInputError(`container id prefix "${ref}" is ambiguous`);
  throw new NotFoundError(`no such container: ${ref}`, 'see tsps -a');
}

/**
 * rm -rf without following symlinks. Node 20's rmSync({recursive}) first loads and runs its JS
 * rimraf, which costs 15-80 ms here: a large part of a `tsrun --rm` run.
 */
export function removeTree(path: string): void {
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR') throw err;
    unlinkSync(path);
    return;
  }
  for (const e of entries) {
    const child = join(path, e.name);
    if (e.isDirectory()) removeTree(child);
    else unlinkSync(child);
  }
  rmdirSync(path);
}

/** Deletes a stopped container: cgroup, directories, name. */
export async function removeContainer(st: ContainerState): Promise<void> {
  const { cgroupDriver } = await import('./cgroups.js');
  cgroupDriver().open(st.id).remove();
  releaseName(st.name, st.id);
  removeTree(runtimeDir(st.id));
  removeTree(containerDir(st.id));
  if (st.ip) {
    const { releaseAddress } = await import('./network.js');
    releaseAddress(st.ip, st.id);
  }
}

/** docker-inspect-shaped JSON for one container (for tsinspect and its --format). */
export async function inspectContainer(ref: string): Promise<Record<string, unknown>> {
  const st = await findContainer(ref);
  const pid = containerPid(st) ?? 0;
  const s = st.spec;
  return {
    Id: st.id,
    Created: st.created,
    Path: s.argv[0],
    Args: s.argv.slice(1),
    Name: `/${st.name}`,
    Image: st.imageId,
    State: {
      Status: st.status,
      Running: st.status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: !!st.oomKilled,
      Dead: false,
      Pid: pid,
      ExitCode: st.exitCode ?? 0,
      Error: '',
      StartedAt: st.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: st.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Config: {
      Hostname: s.hostname,
      User: s.user,
      Env: s.env,
      Cmd: s.argv,
      Image: st.image,
      WorkingDir: s.cwd,
      Tty: s.tty,
    },
    HostConfig: {
      NetworkMode:
        s.network.mode === 'container' ? `container:${s.network.container}` : s.network.mode,
      Memory: s.limits.memory ?? 0,
      CpuPeriod: s.limits.cpuPeriod ?? 0,
      CpuQuota: s.limits.cpuQuota ?? 0,
      CpuShares: s.limits.cpuShares ?? 0,
      PidsLimit: s.limits.pids ?? 0,
      AutoRemove: st.autoRemove,
      Binds: s.mounts
        .filter((m) => m.type !== 'tmpfs')
        .map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
      PortBindings: Object.fromEntries(
        s.ports.map((p) => [
          `${p.containerPort}/tcp`,
          [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }],
        ]),
      ),
    },
    Mounts: s.mounts.map((m) => ({
      Type: m.type,
      Source: m.source,
      Destination: m.target,
      RW: !m.readOnly,
    })),
    NetworkSettings: {
      IPAddress: st.ip ?? '',
      Ports: Object.fromEntries(
        s.ports.map((p) => [
          `${p.containerPort}/tcp`,
          [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }],
        ]),
      ),
    },
    LogPath: join(containerDir(st.id), 'container.log'),
  };
}
