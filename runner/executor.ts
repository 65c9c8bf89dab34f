// The runner's one seam for running a process isolated, modelled on BuildKit's
// executor.Executor (`Run(ctx, id, rootfs, mounts, process, started)`, `Exec`): a process, a root
// filesystem, mounts and options in; a running process out, whose wait() gives its exit. Both
// `tsrun` (run.ts: a container's start) and the builder's RUN (builder/exec/run-step.ts) go
// through it; namespace-executor.ts implements it with namespaces, an overlay and cgroups (the
// native helper). The builder reaches the runner only through this module and that one.
import type { ChildProcess, IOType } from 'node:child_process';
import type { Limits, Mount, PortMapping } from './spec.js';

export type { Limits, Mount };
// What the builder needs of the runner besides running: the layer cache a rootfs is made of,
// and the /etc/resolv.conf and /etc/hosts every container and RUN gets.
export { ensureLayers } from './rootfs.js';
export { containerResolvConf, hostsFile, type ExtraHost } from './resolv-conf.js';

/** The process to run (BuildKit's ProcessInfo/Meta). */
export interface ProcessSpec {
  argv: string[];
  /** KEY=VALUE, complete (nothing is inherited from the caller) */
  env: string[];
  cwd: string;
  /** user[:group], resolved in the container's own /etc/passwd and /etc/group */
  user?: string;
  hostname?: string;
  tty?: boolean;
  /** a minimal init as PID 1 that reaps zombies and forwards signals */
  init?: boolean;
}

/** The root filesystem: an overlay of unpacked layers, mounted by the helper in its own mount
 * namespace (nothing is left mounted on the host, whatever happens). */
export interface RootfsSpec {
  /** unpacked layer directories, bottom first (ensureLayers); none: an empty root */
  layers: string[];
  /** holds upper/ (the changes: a RUN's new layer, a container's writable layer) and work/ */
  dir: string;
  /** holds the lowerdir links, the mount point and ctr.pid (default: dir) */
  runDir?: string;
  /** the overlay is mounted read-only (tsrun --read-only) */
  readOnly?: boolean;
}

/**
 * none: an own network namespace with lo only; host: the host's; bridge: an own namespace with
 * eth0 on the runner's bridge (outbound NAT; rootless: pasta's user-mode network instead); join:
 * the network (and uts) namespace of another process. A bridge address the caller reserved (a
 * container keeps its own in its record) is passed in; without one, the executor reserves one
 * for the run and frees it when it exits.
 */
export type NetworkSpec =
  | { mode: 'none' }
  | { mode: 'host' }
  | {
      mode: 'bridge';
      reservation?: { ip: string; owner: string };
      /** rootless only: published by the user-mode network (pasta); on the bridge the caller
       * publishes them (network.ts publishPorts) */
      ports?: PortMapping[];
    }
  | { mode: 'join'; netns: string; uts?: string };

export interface RunOptions {
  /** cgroup `tsdock/<id>` (v1: in each hierarchy) with these limits, removed after the exit */
  cgroup: { id: string; limits: Limits };
  network: NetworkSpec;
  /** the process's stdin, stdout and stderr ('pipe' ones are on Running.child) */
  stdio: [IOType, IOType, IOType];
  /** report whether the command could be exec'd (Running.execStatus) */
  execStatus?: boolean;
  /** called as soon as the helper is spawned, before network setup (BuildKit's `started`) */
  spawned?(running: Running): void;
}

export interface ExitResult {
  /** the process's own code; 128+n when killed by signal n; 126/127 when the command is not
   * executable / not found; 125 when the sandbox could not be set up */
  exitCode: number;
  /** the cgroup's memory limit killed it */
  oomKilled: boolean;
}

export interface Running {
  child: ChildProcess;
  /** the address on the bridge, with network bridge */
  ip?: string;
  /** with execStatus: once the command was exec'd (code 0) or failed (126/127/125) */
  execStatus(): Promise<{ code: number; message: string }>;
  /** once the process exited and its cgroup and transient address are freed */
  wait(): Promise<ExitResult>;
  /** frees the cgroup and transient address now (an interrupt handler, after SIGKILL) */
  release(): void;
}

/** A process to start in a running one's namespaces and cgroup (tsexec). */
export interface ExecTarget {
  /** the cgroup id the target runs in (RunOptions.cgroup.id) */
  id: string;
  /** the host pid of the target's PID 1 */
  pid: number;
}

export interface Executor {
  /** Starts the process; resolves once it runs (network plugged in), rejects with nothing left
   * behind when it could not be started. */
  run(
    process: ProcessSpec,
    rootfs: RootfsSpec,
    mounts: Mount[],
    opts: RunOptions,
  ): Promise<Running>;
  /** Starts a process in every namespace and the cgroup of a running one (BuildKit's Exec). */
  exec(target: ExecTarget, process: ProcessSpec, opts: Pick<RunOptions, 'stdio'>): Promise<Running>;
}

/**
 * For a rootless user: host owner ids -> the ids root of the user's namespace sees them as
 * (runner/rootless/id-maps.ts), so what the builder keys on files is the same from either side.
 */
export async function namespaceIdTranslator(): Promise<{
  uid: (hostId: number) => number;
  gid: (hostId: number) => number;
}> {
  const [{ userMaps }, { insideId }] = await Promise.all([
    import('./rootless/userns.js'),
    import('./rootless/id-maps.js'),
  ]);
  const maps = userMaps();
  return { uid: (id) => insideId(maps.uid, id), gid: (id) => insideId(maps.gid, id) };
}
