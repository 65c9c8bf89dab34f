// Container records: state on disk, names, lookup, liveness, removal and docker-inspect output.
//
//   $TSDOCK_ROOT/containers/               (disk: survives a reboot)
//     .names/<name> -> <id>        symlink: creating it atomically reserves the name
//     <id>/state.json              ContainerState (written via rename, never half-written)
//     <id>/container.log[.1]       json-lines logs of detached containers (size-capped)
//     <id>/{upper,work}            the container's own overlay layer (tscommit reads upper)
//   $TSDOCK_RUNTIME (/run/tsdock for root: tmpfs, gone after a reboot, like /run/runc)
//     <id>/ctr.pid                 host pid of the container's PID 1 (written by the helper)
//     <id>/owner                   "pid starttime" of its creator/supervisor (container-leftovers.ts)
//     <id>/frozen-by               the same, of a tscommit holding it frozen
//     <id>/{l,rootfs}              lowerdir links and the mount point (runner/rootfs.ts)
//     <id>/{hosts,hostname,resolv.conf}
//
// Keeping the per-run scaffolding on tmpfs halves the file system metadata operations on
// the start path; on a busy ext4 each costs milliseconds.
//
// Liveness is never trusted from the file alone: a "running" record whose supervisor pid is
// gone, a "created" one whose creator is gone, or one written before the last reboot (boot_id
// differs), is settled as exited and everything it held is released (container-leftovers.ts);
// with --rm it is removed. A record directory without state.json whose owner is dead (a
// foreground --rm run killed before it saved) is removed, and so is a runtime dir whose owner
// is dead (killed before it made the record). reconcileAll() does this for every
// container; commands that read container state run it first, so a kill -9 leaves nothing.
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
import { isRootless } from '../shared/rootless-env.js';
import type { ContainerSpec } from './spec.js';
import {
  abandonedClaim,
  cgroupDirsEverywhere,
  claimOwnership,
  ownerState,
  thawEverywhere,
  unlinkReservations,
} from './container-leftovers.js';
import { containersRoot, runtimeRoot } from '../shared/paths.js';
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

export { tsdockRoot, containersRoot, runtimeRoot } from '../shared/paths.js';

export function containerDir(id: string): string {
  return join(containersRoot(), id);
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

/** Makes this process the owner of container `id` (its creator or supervisor). */
export function claimContainer(id: string): void {
  claimOwnership(runtimeDir(id));
}

const FROZEN_BY = 'frozen-by';

/** Records that this process holds container `id` frozen (undone by releaseFrozen). */
export function claimFrozen(id: string): void {
  claimOwnership(runtimeDir(id), FROZEN_BY);
}

export function releaseFrozen(id: string): void {
  removeTree(join(runtimeDir(id), FROZEN_BY));
}

/** Whether nobody will finish this record: its supervisor or creator is gone, or a reboot. */
function abandoned(st: ContainerState): boolean {
  if (st.status === 'exited') return false;
  if (st.bootId !== bootId()) return true;
  if (st.status === 'running') return !pidAlive(st.monitorPid);
  return ownerState(runtimeDir(st.id)) !== 'alive'; // created: its creator still at work?
}

/**
 * Settles a record whose supervisor died or predates this boot (crash/reboot recovery):
 * releases everything it held, and removes it when it was --rm. Undefined when removed.
 */
export async function reconcile(st: ContainerState): Promise<ContainerState | undefined> {
  if (!abandoned(st)) {
    if (st.status === 'running' && ownerState(runtimeDir(st.id), FROZEN_BY) === 'dead') {
      thawEverywhere(st.id); // a tscommit died while it held the container frozen
      removeTree(join(runtimeDir(st.id), FROZEN_BY));
    }
    return st;
  }
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
  // rootless hook: the user-mode network (pasta) of a killed supervisor goes too
  if (isRootless()) (await import('./rootless/pasta.js')).stopLeftoverPasta(runtimeDir(st.id));
  const settled: ContainerState = {
    ...st,
    status: 'exited',
    exitCode: st.exitCode ?? 255,
    finishedAt: st.finishedAt ?? new Date().toISOString(),
  };
  if (st.autoRemove) {
    await removeContainer(settled);
    return undefined;
  }
  await releaseHeld(settled.id);
  saveState(settled);
  return settled;
}

/** Frees what a stopped container holds outside its record: cgroups, runtime dir, address. */
async function releaseHeld(id: string): Promise<void> {
  const { removeDirs } = await import('./cgroups.js');
  removeDirs(cgroupDirsEverywhere(id));
  removeTree(runtimeDir(id));
  // the bridge's reservations (runner/network.ts keeps them as containers/.ips/<ip> -> id)
  unlinkReservations(join(containersRoot(), '.ips'), id);
}

/**
 * Settles every abandoned container (see reconcile) and removes record directories that never
 * got a state.json and whose creator is dead. Commands that read container state call this
 * first. Returns the remaining records.
 */
export async function reconcileAll(): Promise<ContainerState[]> {
  let ids: string[] = [];
  try {
    ids = readdirSync(containersRoot()).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  const out: ContainerState[] = [];
  for (const id of ids) {
    const st = loadState(id);
    if (st) {
      const kept = await reconcile(st);
      if (kept) out.push(kept);
    } else if (ownerState(runtimeDir(id)) !== 'alive' && !loadState(id)) {
      await removeContainer({ id, name: '', ip: undefined });
    }
  }
  await sweepRuntimeDirs();
  return out;
}

/**
 * Runtime dirs whose owner is dead, of any state root (ids are unique across roots): a kill
 * between claiming a container and making its record leaves only this. Dirs without an owner
 * file (an older tsdock) are left alone.
 */
async function sweepRuntimeDirs(): Promise<void> {
  let ids: string[];
  try {
    ids = readdirSync(runtimeRoot());
  } catch {
    return;
  }
  for (const id of ids) {
    if (abandonedClaim(id)) removeTree(join(runtimeRoot(), id));
    if (id.startsWith('.') || ownerState(runtimeDir(id)) !== 'dead') continue;
    const { removeDirs } = await import('./cgroups.js');
    removeDirs(cgroupDirsEverywhere(id));
    removeTree(runtimeDir(id));
  }
}

let startup: Promise<ContainerState[]> | undefined;
/**
 * What every command that reads container state does first (once per process): the state
 * root's permissions (shared/state-dirs.ts) and reconcileAll.
 */
export function reconcileAtStart(): Promise<ContainerState[]> {
  startup ??= (async () => {
    const { secureStateDirs } = await import('../shared/state-dirs.js');
    secureStateDirs();
    return reconcileAll();
  })();
  return startup;
}

/** Every container, reconciled, newest first. */
export async function listContainers(): Promise<ContainerState[]> {
  const first = !startup;
  const atStart = await reconcileAtStart();
  const states = first ? atStart : await reconcileAll();
  return states.sort((a, b) => b.created.localeCompare(a.created));
}

/** By exact name, full id or unique id prefix. */
export async function findContainer(ref: string): Promise<ContainerState> {
  await reconcileAtStart();
  const named = join(containersRoot(), '.names', ref);
  let byName: ContainerState | undefined;
  try {
    byName = loadState(readlinkSync(named));
  } catch {
    /* not a name */
  }
  const found = byName ?? loadState(ref);
  const settled = found && (await reconcile(found));
  if (settled) return settled;
  if (found) throw new NotFoundError(`no such container: ${ref}`, 'it was started with --rm');
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
    else ignoreGone(() => unlinkSync(child));
  }
  ignoreGone(() => rmdirSync(path));
}

/** Two removers of the same tree (a reconcile beside the owner finishing) both succeed. */
function ignoreGone(op: () => void): void {
  try {
    op();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Deletes a stopped container: cgroups, name, runtime dir, address, and last the record
 * directory, so an interrupted removal is finished by the next reconcileAll.
 */
export async function removeContainer(
  st: Pick<ContainerState, 'id' | 'name' | 'ip'>,
): Promise<void> {
  if (st.name) releaseName(st.name, st.id);
  else unlinkReservations(join(containersRoot(), '.names'), st.id);
  await releaseHeld(st.id);
  if (st.ip) {
    const { releaseAddress } = await import('./network.js');
    releaseAddress(st.ip, st.id);
  }
  // rootless hook: an upper dir may hold files of the user's subordinate ids
  await removeTreeRootless(containerDir(st.id));
}

/** removeTree; for a rootless user, files it cannot remove go as root of its user namespace. */
async function removeTreeRootless(path: string): Promise<void> {
  try {
    removeTree(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (process.getuid?.() === 0 || (code !== 'EACCES' && code !== 'EPERM')) throw err;
    const { removeAsNamespaceRoot } = await import('./rootless/userns.js');
    await removeAsNamespaceRoot(path);
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
